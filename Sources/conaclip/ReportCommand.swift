import ArgumentParser
import ConaclipCluster
import ConaclipReport
import Foundation

/// `conaclip report`: the Markdown report of one or more training runs.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a Markdown report of training runs: recall table, size and speed, loss and recall plots, retrieval examples.",
        discussion: """
            Evaluates the teacher and each run's model (final/, else its newest checkpoint) on the same \
            pairs: text-to-image and image-to-text R@1/5/10 and their mean, parameter counts, weights on \
            disk and image/text encoding speed (one BLAS thread, measured in this run). Plots every loss \
            term of each run's metrics.jsonl, and the recall of each kept checkpoint by step; draws a \
            retrieval contact sheet per run (captions of the evaluation pairs as queries, the top images \
            by the search ranking). Writes report.md, report.json and the PNGs into --out. \
            Without --data, the first run's config names the data (its manifest, evaluated on --split; for \
            synthetic-shape runs, held-out shapes drawn with the next seed); without --teacher, its \
            teacher directory or the teacher it pre-trained on the spot (RUN/teacher), if any. \
            Several runs (e.g. no-distill, motis, conaclip) are compared in one table and one set of plots.
            """)

    @Option(name: .customLong("run"), help: "Training run directory (repeat for several runs; the first one's config is the default for data and teacher).")
    var runs: [String]

    @Option(help: "Teacher model directory (default: from the first run's config, or RUN/teacher).")
    var teacher: String?

    @Flag(help: "Leave the teacher out even if the run names one.")
    var noTeacher = false

    @Option(help: "Evaluation dataset (manifest, tar shards, image folder); default: the first run's.")
    var data: String?

    @Option(help: "Split to evaluate (\"all\" keeps every record).")
    var split = "test"

    @Option(help: "Output directory (default: the first run's directory + /report).")
    var out: String?

    @Option(help: "Text queries per retrieval contact sheet (0: no sheet).")
    var queries = 6

    @Option(help: "Images per query in the contact sheets.")
    var topK = 5

    @Option(help: "Images or texts per forward pass.")
    var batch = 64

    @Flag(help: "Do not evaluate the kept checkpoints (the recall plot then has the final model only).")
    var skipCheckpoints = false

    @Option(help: "Held-out pairs for runs trained on the built-in synthetic shapes.")
    var syntheticPairs = 96

    func validate() throws {
        guard !runs.isEmpty else { throw ValidationError("give at least one --run DIR") }
        guard queries >= 0 else { throw ValidationError("--queries must not be negative") }
        guard topK > 0, batch > 0, syntheticPairs > 0 else {
            throw ValidationError("--top-k, --batch and --synthetic-pairs must be positive")
        }
        if teacher != nil && noTeacher { throw ValidationError("--teacher and --no-teacher exclude each other") }
    }

    func run() throws {
        BLAS.setThreads(1)
        let started = Date()
        let directory = out ?? runs[0] + "/report"
        let options = RunReportOptions(runs: runs, teacher: teacher, useTeacher: !noTeacher, data: data, split: split, out: directory,
                                       queries: queries, topK: topK, batch: batch,
                                       evaluateCheckpoints: !skipCheckpoints, syntheticPairs: syntheticPairs)
        let result = try RunReport.build(options) { line in
            FileHandle.standardError.write(Data("conaclip report: \(line)\n".utf8))
        }
        for model in result.models {
            print(String(format: "%@ %@: mean recall %.2f (t2i R@1 %.2f, i2t R@1 %.2f), %d parameters",
                         model.role, model.name, model.meanRecall, model.t2i.r1, model.i2t.r1, model.parameters.total))
        }
        print("report written in \(String(format: "%.1f", Date().timeIntervalSince(started))) s: \(result.markdownPath)")
        for image in result.images { print("  \(image)") }
    }
}
