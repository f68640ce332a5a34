import Foundation
import Testing
import ConaclipModels

/// `conaclip report` on a run built from `ColourCLIP` models, whose recalls
/// follow in closed form: the files it writes, the recall and size tables
/// parsed back, and the pictures decoded at the sizes the layout gives.
@Suite struct ReportCommandTests {
    /// The evaluation pairs: one-colour pictures captioned with colour words.
    static let pairs: [(id: String, colour: String, caption: String)] = [
        ("r", "red", "red"), ("g", "green", "green"), ("b", "blue", "blue"),
        ("y", "yellow", "red green"), ("c", "cyan", "green blue"), ("m", "magenta", "red blue"),
    ]

    static func rgb(_ name: String) -> (UInt8, UInt8, UInt8) {
        ColourCLIP.palette.first { $0.name == name }?.rgb ?? (0, 0, 0)
    }

    /// Recall@1/5/10 (percent) both ways and their mean, computed here from the
    /// closed-form scores; `swap` exchanges red and green in the texts (the
    /// swapped model). Ties rank the lower index first.
    static func expectedRecall(swap: Bool) -> [Double] {
        func caption(_ text: String) -> String {
            guard swap else { return text }
            return text.split(separator: " ").map { $0 == "red" ? "green" : ($0 == "green" ? "red" : String($0)) }
                .joined(separator: " ")
        }
        let n = pairs.count
        let scores = pairs.map { query in pairs.map { image in ColourCLIP.expectedScore(caption(query.caption), rgb(image.colour)) } }
        func recall(_ matrix: [[Double]]) -> [Double] {
            var hits = [0, 0, 0]
            for i in 0..<n {
                let order = (0..<n).sorted { a, b in
                    abs(matrix[i][a] - matrix[i][b]) > 1e-6 ? matrix[i][a] > matrix[i][b] : a < b
                }
                let rank = order.firstIndex(of: i) ?? n
                for (k, cut) in [1, 5, 10].enumerated() where rank < cut { hits[k] += 1 }
            }
            return hits.map { 100 * Double($0) / Double(n) }
        }
        let t2i = recall(scores)
        let i2t = recall((0..<n).map { i in (0..<n).map { j in scores[j][i] } })
        return t2i + i2t + [(t2i + i2t).reduce(0, +) / 6]
    }

    /// The cells of the Markdown table row starting with `| name |` under the header starting with `header`.
    static func row(_ markdown: String, header: String, name: String) -> [String]? {
        let lines = markdown.split(separator: "\n").map(String.init)
        guard let start = lines.firstIndex(where: { $0.hasPrefix(header) }) else { return nil }
        for line in lines[(start + 2)...] {
            guard line.hasPrefix("|") else { break }
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            if cells.first == name { return cells }
        }
        return nil
    }

    static func metricsLine(step: Int, total: Double, task: Double) -> String {
        "{\"step\":\(step),\"total\":\(total),\"task\":\(task),\"terms\":{\"intra-ts:fd:1.0\":\(total - task),"
            + "\"inter-ss:kl:0.07\":\(step == 3 ? "null" : String(0.5 / Double(step)))},\"lr\":0.001,\"grad_norm\":1.0,"
            + "\"logit_scale\":14.3,\"step_time\":0.5,\"data_time\":0.1,\"pairs_per_s\":64.0}"
    }

    @Test func reportTablesAndPicturesMatchTheClosedForm() throws {
        let root = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let fileManager = FileManager.default
        // Data: six test pairs and one train pair that must be left out.
        try fileManager.createDirectory(at: root.appendingPathComponent("data"), withIntermediateDirectories: true)
        var manifest = ""
        for pair in Self.pairs + [("t", "orange", "orange")] {
            try ColourCLIP.writePicture(Self.rgb(pair.1), to: root.appendingPathComponent("data/\(pair.0).png").path)
            let split = pair.0 == "t" ? "train" : "test"
            manifest += "{\"id\":\"\(pair.0)\",\"image\":\"\(pair.0).png\",\"caption\":\"\(pair.2)\",\"split\":\"\(split)\"}\n"
        }
        let manifestPath = root.appendingPathComponent("data/manifest.jsonl").path
        try manifest.write(toFile: manifestPath, atomically: true, encoding: .utf8)
        // A run: final/ is the colour model, the checkpoint at step 2 the swapped one; metrics for steps 1-4.
        let run = root.appendingPathComponent("runs/colour").path
        try fileManager.createDirectory(atPath: run + "/checkpoints", withIntermediateDirectories: true)
        try ColourCLIP.write(to: run + "/final")
        try ColourCLIP.write(to: run + "/checkpoints/step-000002", swap: true)
        let metrics = (1...4).map { Self.metricsLine(step: $0, total: 4.0 / Double($0), task: 3.0 / Double($0)) }
        try (metrics.joined(separator: "\n") + "\n{\"step\":5,\"tot").write(toFile: run + "/metrics.jsonl", atomically: true, encoding: .utf8)
        let teacher = root.appendingPathComponent("teacher").path
        try ColourCLIP.write(to: teacher, swap: true)

        let out = root.appendingPathComponent("report").path
        let result = try CLIRunner.run(["report", "--run", run, "--teacher", teacher, "--data", manifestPath,
                                        "--out", out, "--queries", "3", "--top-k", "3"], in: root)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(out + "/report.md"), "\(result.stdout)")
        let markdown = try String(contentsOfFile: out + "/report.md", encoding: .utf8)

        // The recall table, parsed back.
        let header = "| model | role | t2i R@1"
        let student = Self.expectedRecall(swap: false), swapped = Self.expectedRecall(swap: true)
        #expect(student != swapped)
        for (name, expected) in [("teacher", swapped), ("colour", student)] {
            let cells = try #require(Self.row(markdown, header: header, name: name), "no row \(name) in\n\(markdown)")
            let values = cells.dropFirst(2).compactMap(Double.init)
            #expect(values.count == 7)
            for (got, want) in zip(values, expected) { #expect(abs(got - want) < 0.006, "\(name): \(values) vs \(expected)") }
        }
        #expect(markdown.contains("split test: 6 pairs"))

        // Sizes: the parameter count is the number of stored weights; the size the file's.
        let weights = try SafeTensorsFile(path: run + "/final/model.safetensors")
        let parameters = weights.entries.values.reduce(0) { $0 + $1.count }
        let sizes = try #require(Self.row(markdown, header: "| model | vision params", name: "colour"))
        #expect(Int(sizes[3]) == parameters)
        let bytes = try #require(try fileManager.attributesOfItem(atPath: run + "/final/model.safetensors")[.size] as? Int)
        #expect(sizes[4] == String(format: "%.2f", Double(bytes) / 1_048_576))
        #expect((Double(sizes[5]) ?? 0) > 0 && (Double(sizes[6]) ?? 0) > 0)

        // Recall by step: the checkpoint (swapped weights) at 2, the final model at the last logged step, 4.
        let byStep = markdown.split(separator: "\n").filter { $0.hasPrefix("| colour | ") && $0.split(separator: "|").count == 5 }
        #expect(byStep.count == 2, "\(byStep)")
        let steps = byStep.map { $0.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) } }
        #expect(steps.map { $0[1] } == ["2", "4"])
        #expect(abs((Double(steps[0][4]) ?? -1) - swapped[6]) < 0.006 && abs((Double(steps[1][4]) ?? -1) - student[6]) < 0.006)
        #expect(markdown.contains("1 unreadable line(s)"))

        // Pictures: they decode, at the sizes the layout gives (panels of 380 x 250 under a 28-pixel title).
        let loss = try ImageCodec.decode(contentsOfFile: out + "/loss.png")   // total, task, two terms: 3 + 1 panels
        #expect(loss.width == 3 * 380 && loss.height == 28 + 2 * 250)
        let recall = try ImageCodec.decode(contentsOfFile: out + "/recall.png")
        #expect(recall.width == 3 * 380 && recall.height == 28 + 250)
        let sheet = try ImageCodec.decode(contentsOfFile: out + "/retrieval-colour.png")
        #expect(sheet.width == 10 + 220 + 10 + 3 * (96 + 10))
        for name in ["loss.png", "recall.png", "retrieval-colour.png"] { #expect(markdown.contains("](\(name))")) }

        // report.json carries the same numbers.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/report.json"))) as? [String: Any])
        let models = try #require(json["models"] as? [[String: Any]])
        #expect(models.map { $0["name"] as? String } == ["teacher", "colour"])
        #expect(abs(((models[1]["mean_recall"] as? Double) ?? -1) - student[6]) < 1e-9)
    }

    @Test func reportRefusesARunWithoutAModel() throws {
        let root = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("empty-run"), withIntermediateDirectories: true)
        let result = try CLIRunner.run(["report", "--run", "empty-run", "--data", "none.jsonl"], in: root)
        #expect(result.status != 0)
        #expect(result.stderr.contains("empty-run"), "\(result.stderr)")
    }
}
