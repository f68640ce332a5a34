import Foundation
import Testing
import ConaclipModels

/// `conaclip eval` end to end on the tiny Hugging Face fixture model
/// (Tests/ConaclipModelsTests/Fixtures/hf-tiny-clip) with JSONL manifests
/// written here. The recalls are checked against recalls computed in this
/// file, independently of the library, from `conaclip embed` output for the
/// same items.
@Suite struct EvalCommandTests {
    static let fixture = CLIRunner.repositoryRoot.appendingPathComponent("Tests/ConaclipModelsTests/Fixtures/hf-tiny-clip")
    static let model = fixture.appendingPathComponent("model").path

    /// The `--json` object of `conaclip eval`.
    struct Report: Decodable {
        struct Recall: Decodable, Equatable { var r1, r5, r10: Double }
        struct Parameters: Decodable { var vision, text, total: Int }
        var model: String
        var data: String
        var split: String?
        var count: Int
        var t2i: Recall
        var i2t: Recall
        var mean_recall: Double
        var parameters: Parameters
        var size_bytes: Int
        var images_per_second: Double
        var texts_per_second: Double
        var skipped_records: Int
    }

    struct Item {
        var id: String
        var image: String
        var caption: String
        var split: String
        var sameImageAs: [String] = []

        var json: String {
            let object: [String: Any] = ["id": id, "image": image, "caption": caption, "split": split,
                                         "same_image_as": sameImageAs]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// Seven test pairs over the five fixture pictures (gray.png three
    /// times, listed as identical from one side only) and one train pair.
    static func items(imageDirectory: String) -> [Item] {
        func image(_ name: String) -> String { "\(imageDirectory)/\(name)" }
        return [
            Item(id: "cat", image: image("rgb.png"), caption: "a photo of a cat", split: "test"),
            Item(id: "dogs", image: image("gray.png"), caption: "two dogs", split: "test", sameImageAs: ["grey"]),
            Item(id: "party", image: image("photo.jpg"), caption: "A Dog's BIRTHDAY party!!!", split: "test"),
            Item(id: "grey", image: image("gray.png"), caption: "a grey square", split: "test"),
            Item(id: "cafe", image: image("palette.png"), caption: "Cafe\u{301}'s table", split: "test"),
            Item(id: "train-only", image: image("rgba.png"), caption: "in 2024: 3 cats & 12 dogs", split: "train"),
            Item(id: "smile", image: image("rgba.png"), caption: "smiling face \u{1F600} with heart eyes", split: "test"),
            Item(id: "grey-again", image: image("gray.png"), caption: "grey", split: "test", sameImageAs: ["dogs"]),
        ]
    }

    static func writeManifest(_ items: [Item], to url: URL) throws {
        try items.map(\.json).joined(separator: "\n").appending("\n").write(to: url, atomically: true, encoding: .utf8)
    }

    static func decode(_ run: CLIRunner.Run) throws -> Report {
        try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
    }

    /// Recall@1/5/10 in percent from embeddings, written for this test: the
    /// gallery sorted by (similarity desc, index asc), a hit being any item
    /// of the query's identical-picture group.
    static func recall(queries: Tensor, gallery: Tensor, groups: [Int]) -> Report.Recall {
        let n = queries.shape[0], d = queries.shape[1]
        var found = [0, 0, 0]
        for i in 0..<n {
            let scores = (0..<n).map { j in
                (0..<d).reduce(Float(0)) { $0 + queries.scalars[i * d + $1] * gallery.scalars[j * d + $1] }
            }
            let order = (0..<n).sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
            guard let first = order.firstIndex(where: { groups[$0] == groups[i] }) else { continue }
            for (slot, k) in [1, 5, 10].enumerated() where first < k { found[slot] += 1 }
        }
        let pct = found.map { 100 * Double($0) / Double(n) }
        return Report.Recall(r1: pct[0], r5: pct[1], r10: pct[2])
    }

    @Test func recallAgreesWithEmbedOutputAndSizesAreCounted() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let items = Self.items(imageDirectory: Self.fixture.appendingPathComponent("images").path)
        let manifest = directory.appendingPathComponent("pairs.jsonl")
        try Self.writeManifest(items, to: manifest)

        let run = try CLIRunner.run(["eval", "--model", Self.model, "--data", manifest.path, "--json", "--batch", "3"],
                                    in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        let report = try Self.decode(run)
        let test = items.filter { $0.split == "test" }
        #expect(report.count == test.count)
        #expect(report.split == "test")
        #expect(report.skipped_records == 0)

        // The same items through `conaclip embed`, and recall computed here.
        let embeddings = directory.appendingPathComponent("embeddings.safetensors")
        let embed = try CLIRunner.run(["embed", "--model", Self.model, "--image"] + test.map(\.image)
                                      + ["--text"] + test.map(\.caption) + ["--out", embeddings.path, "--chunk-size", "3"],
                                      in: directory)
        #expect(embed.status == 0, "\(embed.stderr)")
        let file = try SafeTensorsFile(path: embeddings.path)
        let images = try file.tensor(named: "image_embeds"), texts = try file.tensor(named: "text_embeds")
        // dogs, grey and grey-again share gray.png (each pair listed from one side only).
        let gray: Set = ["dogs", "grey", "grey-again"]
        let groups = test.enumerated().map { index, item in gray.contains(item.id) ? -1 : index }
        let t2i = Self.recall(queries: texts, gallery: images, groups: groups)
        let i2t = Self.recall(queries: images, gallery: texts, groups: groups)
        #expect(report.t2i == t2i)
        #expect(report.i2t == i2t)
        #expect(abs(report.mean_recall - (t2i.r1 + t2i.r5 + t2i.r10 + i2t.r1 + i2t.r5 + i2t.r10) / 6) < 1e-9)
        // The data exercises the groups: counted pair by pair, the three
        // identical gray pictures tie and only one of them can come first.
        let t2iByPair = Self.recall(queries: texts, gallery: images, groups: Array(0..<test.count))
        let i2tByPair = Self.recall(queries: images, gallery: texts, groups: Array(0..<test.count))
        #expect(t2iByPair != t2i || i2tByPair != i2t)
        for (alone, grouped) in [(t2iByPair, t2i), (i2tByPair, i2t)] {
            #expect(alone.r1 <= grouped.r1 && alone.r5 <= grouped.r5 && alone.r10 <= grouped.r10)
        }

        // Parameters: every tensor of model.safetensors, split by tower.
        let weights = try SafeTensorsFile(path: Self.model + "/model.safetensors")
        var vision = 0, text = 0, total = 0
        for name in weights.names {
            let count = try weights.entry(named: name).shape.reduce(1, *)
            total += count
            if name.hasPrefix("vision_model.") || name == "visual_projection.weight" { vision += count }
            if name.hasPrefix("text_model.") || name == "text_projection.weight" { text += count }
        }
        #expect(report.parameters.vision == vision)
        #expect(report.parameters.text == text)
        #expect(report.parameters.total == total)
        #expect(vision + text + 1 == total, "only logit_scale is outside the towers")
        let size = try FileManager.default.attributesOfItem(atPath: Self.model + "/model.safetensors")[.size] as? Int
        #expect(report.size_bytes == size)
        #expect(report.images_per_second > 0 && report.images_per_second.isFinite)
        #expect(report.texts_per_second > 0 && report.texts_per_second.isFinite)

        // The table says where the speed comes from.
        let table = try CLIRunner.run(["eval", "--model", Self.model, "--data", manifest.path], in: directory)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("measured in this run"))
        #expect(table.stdout.contains("mean recall"))
    }

    @Test func brokenImagesStopOrAreSkippedAndCounted() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let broken = directory.appendingPathComponent("broken.png")
        try Data("not a png at all".utf8).write(to: broken)
        var items = Array(Self.items(imageDirectory: Self.fixture.appendingPathComponent("images").path).prefix(3))
        items.insert(Item(id: "broken", image: broken.path, caption: "nothing to see", split: "test"), at: 1)
        let manifest = directory.appendingPathComponent("pairs.jsonl")
        try Self.writeManifest(items, to: manifest)

        let stop = try CLIRunner.run(["eval", "--model", Self.model, "--data", manifest.path, "--json"], in: directory)
        #expect(stop.status != 0)
        #expect(stop.stderr.contains("pairs.jsonl:2"), "the error names the record: \(stop.stderr)")

        let skip = try CLIRunner.run(["eval", "--model", Self.model, "--data", manifest.path, "--json",
                                      "--on-bad-record", "skip"], in: directory)
        #expect(skip.status == 0, "\(skip.stderr)")
        let report = try Self.decode(skip)
        #expect(report.count == 3)
        #expect(report.skipped_records == 1)
        #expect(skip.stderr.contains("skipped 1 bad record"), "\(skip.stderr)")
    }

    @Test func emptySplitAndSwappedArgumentsAreExplained() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let manifest = directory.appendingPathComponent("pairs.jsonl")
        try Self.writeManifest(Self.items(imageDirectory: Self.fixture.appendingPathComponent("images").path), to: manifest)

        let empty = try CLIRunner.run(["eval", "--model", Self.model, "--data", manifest.path, "--split", "val"], in: directory)
        #expect(empty.status != 0)
        #expect(empty.stderr.contains("\"val\"") && empty.stderr.contains("test, train"), "\(empty.stderr)")

        let swapped = try CLIRunner.run(["eval", "--model", manifest.path, "--data", Self.model], in: directory)
        #expect(swapped.status != 0)
        #expect(swapped.stderr.contains("swapped"), "\(swapped.stderr)")

        let all = try CLIRunner.run(["eval", "--model", Self.model, "--data", manifest.path, "--split", "all", "--json"],
                                    in: directory)
        #expect(all.status == 0, "\(all.stderr)")
        #expect(try Self.decode(all).count == 8)
    }
}
