import Foundation

/// The text of a report: `report.md` for people and `report.json` for tools.
enum ReportMarkdown {
    /// The header of the recall table; tests and tools find the table by it.
    static let recallHeader = "| model | role | t2i R@1 | t2i R@5 | t2i R@10 | i2t R@1 | i2t R@5 | i2t R@10 | mean recall |"
    static let sizeHeader = "| model | vision params | text params | total params | weights on disk (MiB) | images/s | texts/s |"

    static func render(data: String, split: String, models: [ModelResult], runs: [RunSummary], hasLossPlot: Bool,
                       hasRecallPlot: Bool, sheets: [String: String], topK: Int) -> String {
        var lines: [String] = []
        func add(_ line: String = "") { lines.append(line) }
        add("# conaclip training report")
        add()
        add("Runs: " + runs.map { "`\($0.directory)`" }.joined(separator: ", ")
            + (models.first { $0.role == "teacher" }.map { "; teacher: `\($0.directory)`" } ?? "; no teacher"))
        add()
        add("Evaluation data: \(data). Every caption queries every image and every image every caption; "
            + "a retrieved item is a hit when it is the query's own pair or a record with the identical picture "
            + "(`same_image_as`). Recall in percent; mean recall is the mean of the six.")
        add()
        add("## Retrieval")
        add()
        add(recallHeader)
        add("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for m in models {
            let cells = [m.t2i.r1, m.t2i.r5, m.t2i.r10, m.i2t.r1, m.i2t.r5, m.i2t.r10, m.meanRecall].map(percent)
            add("| \(m.name) | \(m.role) | " + cells.joined(separator: " | ") + " |")
        }
        add()
        add("## Size and encoding speed")
        add()
        add(sizeHeader)
        add("|---|---:|---:|---:|---:|---:|---:|")
        for m in models {
            add("| \(m.name) | \(m.parameters.vision) | \(m.parameters.text) | \(m.parameters.total) | "
                + String(format: "%.2f", Double(m.sizeBytes) / 1_048_576) + " | "
                + String(format: "%.1f", m.imagesPerSecond) + " | " + String(format: "%.1f", m.textsPerSecond) + " |")
        }
        add()
        add("Encoding speed was measured in this run with one BLAS thread, after one warm-up batch, over the "
            + "evaluation pairs, image decoding excluded (preprocessing and the tower included). Small sets give "
            + "noisy rates; compare models measured in the same run.")
        if let teacher = models.first(where: { $0.role == "teacher" }) {
            for student in models where student.role != "teacher" {
                add()
                add("- \(student.name) vs teacher: "
                    + ratio(student.parameters.total, teacher.parameters.total, "the parameters") + "; images encoded "
                    + speedRatio(student.imagesPerSecond, teacher.imagesPerSecond) + ", texts encoded "
                    + speedRatio(student.textsPerSecond, teacher.textsPerSecond) + "; mean recall "
                    + String(format: "%.2f vs %.2f", student.meanRecall, teacher.meanRecall) + ".")
            }
        }
        add()
        add("## Training")
        add()
        add("| run | model evaluated | logged steps | last step | last total loss | last task loss | mean pairs/s |")
        add("|---|---|---:|---:|---:|---:|---:|")
        for run in runs {
            let steps = run.history?.steps ?? []
            let last = steps.last
            let rates = steps.map(\.pairsPerSecond).filter(\.isFinite)
            let meanRate = rates.isEmpty ? "-" : String(format: "%.1f", rates.reduce(0, +) / Double(rates.count))
            add("| \(run.label) | `\(run.modelDirectory)` | \(steps.count) | \(last.map { String($0.step) } ?? "-") | "
                + (last.map { number($0.total) } ?? "-") + " | " + (last.map { number($0.task) } ?? "-")
                + " | \(meanRate) |")
            if let unreadable = run.history?.unreadableLines, unreadable > 0 {
                add()
                add("(\(run.label): \(unreadable) unreadable line(s) in metrics.jsonl were left out.)")
            }
        }
        add()
        if hasLossPlot {
            add("![loss terms over steps](\(RunReport.lossPlotName))")
            add()
            add("Each panel is one logged quantity (distillation terms unweighted, as logged); "
                + "the total is the weighted sum the optimiser minimised.")
            add()
        } else {
            add("No metrics.jsonl was found, so there is no loss plot.")
            add()
        }
        if hasRecallPlot {
            add("![recall by training step](\(RunReport.recallPlotName))")
            add()
            add("Recall of each kept checkpoint and of the evaluated model, on the evaluation pairs above"
                + (models.contains { $0.role == "teacher" } ? "; the dashed line is the teacher." : "."))
            add()
            var table = ["| run | step | t2i R@1 | i2t R@1 | mean recall |", "|---|---:|---:|---:|---:|"]
            for run in runs {
                for point in run.recallBySteps {
                    table.append("| \(run.label) | \(point.step) | \(percent(point.t2iR1)) | \(percent(point.i2tR1)) | "
                        + "\(percent(point.meanRecall)) |")
                }
            }
            lines += table
            add()
        }
        if !sheets.isEmpty {
            add("## Retrieval examples")
            add()
            add("Captions of the evaluation pairs used as text queries; the top \(topK) images each model finds "
                + "(search ranking: cosine similarity, ties to the earlier record). A green frame marks the "
                + "caption's own picture or an identical one.")
            add()
            for run in runs {
                if let sheet = sheets[run.label] {
                    add("### \(run.label)")
                    add()
                    add("![retrieval examples of \(run.label)](\(sheet))")
                    add()
                }
            }
        }
        add("## Configs")
        add()
        for run in runs {
            add("### \(run.label)")
            add()
            if let text = run.configText {
                add("`\(run.directory)/config.yaml`:")
                add()
                add("```yaml")
                lines += text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                if lines.last == "" { lines.removeLast() }
                add("```")
            } else {
                add("No config.yaml in \(run.directory).")
            }
            add()
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func percent(_ value: Double) -> String { String(format: "%.2f", value) }

    static func number(_ value: Double) -> String { value.isFinite ? String(format: "%.4f", value) : "-" }

    static func ratio(_ a: Int, _ b: Int, _ what: String) -> String {
        guard b > 0 else { return "\(what): \(a)" }
        return String(format: "%.1f%% of %@", 100 * Double(a) / Double(b), what)
    }

    static func speedRatio(_ student: Double, _ teacher: Double) -> String {
        guard teacher > 0, student > 0 else { return "at an unmeasured rate" }
        return String(format: "%.2fx as fast", student / teacher)
    }

    /// `report.json`: the data, every model's numbers and each run's recall by step.
    static func json(data: String, split: String, models: [ModelResult], runs: [RunSummary]) -> String {
        struct Run: Encodable {
            var label: String
            var directory: String
            var modelDirectory: String
            var loggedSteps: Int
            var recallBySteps: [CheckpointRecall]
            enum CodingKeys: String, CodingKey {
                case label, directory, modelDirectory = "model_directory", loggedSteps = "logged_steps"
                case recallBySteps = "recall_by_steps"
            }
        }
        struct Report: Encodable {
            var data: String
            var split: String
            var models: [ModelResult]
            var runs: [Run]
        }
        let report = Report(data: data, split: split, models: models, runs: runs.map {
            Run(label: $0.label, directory: $0.directory, modelDirectory: $0.modelDirectory,
                loggedSteps: $0.history?.steps.count ?? 0, recallBySteps: $0.recallBySteps)
        })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let bytes = (try? encoder.encode(report)) ?? Data("{}".utf8)
        return String(decoding: bytes, as: UTF8.self) + "\n"
    }
}
