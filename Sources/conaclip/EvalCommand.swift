import ArgumentParser
import ConaclipCluster
import Foundation

/// `conaclip eval`: retrieval recall of a model on a dataset split, with the
/// model's size and encoding speed (the paper's deployment comparison).
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Text-to-image and image-to-text Recall@1/5/10, mean recall, parameters, size and encoding speed of a model on a dataset split.",
        discussion: """
            Every caption of the split queries every image and every image queries every caption. A \
            retrieved item is a hit when it is the query's own pair or a record whose picture is identical \
            (same_image_as, in either direction). Similarities are cosine similarities of the L2-normalised \
            embeddings; equal similarities rank the lower record index first. Recalls are in percent; mean \
            recall is the mean of the six. Encoding speed is measured in this run with one BLAS thread, \
            after one warm-up batch, over the evaluated set, with image decoding excluded. Give --model \
            several times (e.g. the teacher first, then the students) to evaluate them one after another on \
            the same data in one run: the table then has a row per model and each model's encoding speed \
            relative to the first model's, measured in this run (the deployment comparison); --json then \
            prints {"models": [...], "relative_to": FIRST, "image_speedup": [...], "text_speedup": [...]}.
            """)

    @Option(help: "Model directory (Hugging Face CLIP layout: config.json, model.safetensors, tokenizer files); repeat to compare models.")
    var model: [String] = []

    @Option(help: "Dataset: a JSONL/CSV/TSV manifest, a tar shard, a directory of shards or a shard pattern.")
    var data: String

    @Option(help: "Split to evaluate (\"all\" keeps every record).")
    var split = "test"

    @Option(help: "Dataset format (jsonl, csv, tsv, base64-tsv, tar, image-folder); detected from the path when omitted.")
    var format: String?

    @Option(help: "What to do with a bad record or broken image: stop, or skip it and report the count.")
    var onBadRecord = "stop"

    @Option(help: "Images or texts per forward pass.")
    var batch = 64

    @Flag(help: "Print one JSON object (sorted keys) instead of a table.")
    var json = false

    func validate() throws {
        guard !model.isEmpty else { throw ValidationError("give a model directory with --model DIR") }
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
        guard !split.isEmpty else { throw ValidationError("--split must not be empty (use \"all\" to keep every record)") }
        if let format, DatasetFormat(rawValue: format) == nil {
            throw ValidationError("--format must be one of \(DatasetFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard BadRecordPolicy(rawValue: onBadRecord) != nil else {
            throw ValidationError("--on-bad-record must be \"stop\" or \"skip\"")
        }
    }

    func run() throws {
        // Throughput is specified single-threaded, like the deployment table.
        BLAS.setThreads(1)
        for path in model { try Self.checkArgumentsNotSwapped(model: path, data: data) }
        let splitFilter = split == "all" ? nil : split
        let options = DatasetOptions(
            format: format.flatMap(DatasetFormat.init(rawValue:)), split: splitFilter,
            onBadRecord: BadRecordPolicy(rawValue: onBadRecord) ?? .stop)
        let dataset = try Self.openDataset(path: data, options: options)

        var reports: [EvalReport] = []
        var tables: [String] = []
        var skippedSummary: String?
        for path in model {
            let (report, skipped, context) = try evaluate(model: path, dataset: dataset, split: splitFilter)
            reports.append(report)
            tables.append(report.table(skipped: skipped, context: context))
            skippedSummary = skipped.summary
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if reports.count == 1, let report = reports.first {
            if json {
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(tables[0])
            }
        } else {
            let comparison = EvalComparison(models: reports)
            if json {
                print(String(decoding: try encoder.encode(comparison), as: UTF8.self))
            } else {
                print(comparison.table())
                print("")
                print(tables.joined(separator: "\n\n"))
            }
        }
        if json, let summary = skippedSummary {
            FileHandle.standardError.write(Data("conaclip eval: \(summary)\n".utf8))
        }
    }

    /// Evaluates one model directory on the opened dataset.
    func evaluate(model: String, dataset: OpenedDataset,
                  split: String?) throws -> (report: EvalReport, skipped: BadRecordReport, context: Int) {
        let encoder: CLIPEncoder
        do {
            encoder = try CLIPEncoder(directory: model, chunkSize: batch)
        } catch {
            throw EvalError("cannot load model \(model): \(error)")
        }
        let evaluation = try ModelEvaluation(encoder: encoder, modelPath: model, batch: batch)
        let outcome = try evaluation.run(records: dataset.records) { record, report throws(DatasetError) in
            try dataset.loadImage(record, report: &report)
        }
        var skipped = dataset.report
        skipped.merge(outcome.skipped)
        let report = EvalReport(
            model: model, data: data, split: split, count: outcome.records.count,
            t2i: outcome.retrieval.textToImage, i2t: outcome.retrieval.imageToText,
            meanRecall: outcome.retrieval.meanRecall,
            parameters: ParameterCounts(model: encoder.model),
            sizeBytes: try ModelEvaluation.weightBytes(directory: model),
            imagesPerSecond: outcome.throughput.imagesPerSecond,
            textsPerSecond: outcome.throughput.textsPerSecond,
            imageSeconds: outcome.throughput.imageSeconds, textSeconds: outcome.throughput.textSeconds,
            blasThreads: outcome.throughput.blasThreads, batch: batch,
            skippedRecords: skipped.skippedCount, truncatedCaptions: outcome.truncatedCaptions)
        return (report, skipped, encoder.model.config.textConfig.maxPositionEmbeddings)
    }

    /// Catches the common slip of giving the model as data or the data as model.
    static func checkArgumentsNotSwapped(model: String, data: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory) else {
            throw EvalError("--model \(model) does not exist; give a model directory (config.json, model.safetensors, tokenizer files)")
        }
        if !isDirectory.boolValue {
            throw EvalError("--model \(model) is a file, not a model directory (config.json, model.safetensors, tokenizer files)"
                + (FileManager.default.fileExists(atPath: data + "/config.json") ? "; --model and --data look swapped" : ""))
        }
        if FileManager.default.fileExists(atPath: data + "/" + CheckpointDirectory.configFileName) {
            throw EvalError("--data \(data) is a model directory (it has config.json); give a dataset manifest or shards")
        }
    }

    /// Opens the dataset; an empty split names the splits that do exist.
    static func openDataset(path: String, options: DatasetOptions) throws -> OpenedDataset {
        do throws(DatasetError) {
            return try DatasetReader.open(path: path, options: options)
        } catch {
            guard case .empty = error, options.split != nil else { throw EvalError(error.description) }
            var all = options
            all.split = nil
            all.onBadRecord = .skip
            guard let whole = try? DatasetReader.open(path: path, options: all) else { throw EvalError(error.description) }
            let found = Set(whole.records.compactMap(\.split)).sorted()
            let present = found.isEmpty ? "no record names a split" : "splits present: \(found.joined(separator: ", "))"
            throw EvalError("\(error.description) (\(present)); choose a split with --split, or --split all for every record")
        }
    }
}

/// What `conaclip eval` prints: recalls in percent, model size and encoding speed.
struct EvalReport: Encodable {
    var model: String
    var data: String
    var split: String?
    var count: Int
    var t2i: RecallAtK
    var i2t: RecallAtK
    var meanRecall: Double
    var parameters: ParameterCounts
    var sizeBytes: Int
    var imagesPerSecond: Double
    var textsPerSecond: Double
    /// Timed encoding seconds behind the two rates (short times mean noisy rates).
    var imageSeconds: Double
    var textSeconds: Double
    var blasThreads: Int
    var batch: Int
    var skippedRecords: Int
    var truncatedCaptions: Int

    enum CodingKeys: String, CodingKey {
        case model, data, split, count, t2i, i2t, parameters, batch
        case meanRecall = "mean_recall"
        case sizeBytes = "size_bytes"
        case imagesPerSecond = "images_per_second"
        case textsPerSecond = "texts_per_second"
        case imageSeconds = "image_seconds"
        case textSeconds = "text_seconds"
        case blasThreads = "blas_threads"
        case skippedRecords = "skipped_records"
        case truncatedCaptions = "truncated_captions"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(data, forKey: .data)
        try c.encode(split, forKey: .split)   // null when every split was evaluated
        try c.encode(count, forKey: .count)
        try c.encode(t2i, forKey: .t2i)
        try c.encode(i2t, forKey: .i2t)
        try c.encode(meanRecall, forKey: .meanRecall)
        try c.encode(parameters, forKey: .parameters)
        try c.encode(sizeBytes, forKey: .sizeBytes)
        try c.encode(imagesPerSecond, forKey: .imagesPerSecond)
        try c.encode(textsPerSecond, forKey: .textsPerSecond)
        try c.encode(imageSeconds, forKey: .imageSeconds)
        try c.encode(textSeconds, forKey: .textSeconds)
        try c.encode(blasThreads, forKey: .blasThreads)
        try c.encode(batch, forKey: .batch)
        try c.encode(skippedRecords, forKey: .skippedRecords)
        try c.encode(truncatedCaptions, forKey: .truncatedCaptions)
    }

    func table(skipped: BadRecordReport, context: Int) -> String {
        func pct(_ x: Double) -> String { String(format: "%6.2f", x) }
        var lines: [String] = []
        lines.append("model:        \(model)")
        lines.append("  parameters: vision \(parameters.vision), text \(parameters.text), total \(parameters.total)")
        lines.append("  weights:    \(sizeBytes) bytes (\(String(format: "%.2f", Double(sizeBytes) / 1_048_576)) MiB)")
        lines.append("data:         \(data), split \(split ?? "all"): \(count) pairs")
        if let summary = skipped.summary { lines.append("  \(summary)") }
        if truncatedCaptions > 0 {
            lines.append("  \(truncatedCaptions) of \(count) captions are longer than the model's \(context)-token context and were cut")
        }
        lines.append("")
        lines.append("               R@1     R@5    R@10")
        lines.append("text->image  \(pct(t2i.r1))  \(pct(t2i.r5))  \(pct(t2i.r10))")
        lines.append("image->text  \(pct(i2t.r1))  \(pct(i2t.r5))  \(pct(i2t.r10))")
        lines.append("mean recall  \(pct(meanRecall))   (percent; identical pictures count as hits)")
        lines.append("")
        lines.append("encoding speed, measured in this run (\(blasThreads) BLAS thread\(blasThreads == 1 ? "" : "s"), "
            + "batch \(batch), after one warm-up batch, image decoding excluded):")
        lines.append(String(format: "  images/s  %10.1f   (%d images in %.3f s)", imagesPerSecond, count, imageSeconds))
        lines.append(String(format: "  texts/s   %10.1f   (%d texts in %.3f s)", textsPerSecond, count, textSeconds))
        return lines.joined(separator: "\n")
    }
}

/// Several models evaluated in one run on the same data: the paper's
/// deployment comparison, with encoding speed relative to the first model.
struct EvalComparison: Encodable {
    var models: [EvalReport]

    /// The first model, which the speed-ups are relative to.
    var relativeTo: String { models.first?.model ?? "" }
    /// Each model's images/s divided by the first model's.
    var imageSpeedup: [Double] { models.map { Self.ratio($0.imagesPerSecond, models.first?.imagesPerSecond) } }
    var textSpeedup: [Double] { models.map { Self.ratio($0.textsPerSecond, models.first?.textsPerSecond) } }

    static func ratio(_ value: Double, _ base: Double?) -> Double {
        guard let base, base > 0 else { return 0 }
        return value / base
    }

    enum CodingKeys: String, CodingKey {
        case models
        case relativeTo = "relative_to", imageSpeedup = "image_speedup", textSpeedup = "text_speedup"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(models, forKey: .models)
        try c.encode(relativeTo, forKey: .relativeTo)
        try c.encode(imageSpeedup, forKey: .imageSpeedup)
        try c.encode(textSpeedup, forKey: .textSpeedup)
    }

    /// One row per model: size, recalls, mean recall and encoding speed.
    func table() -> String {
        guard let first = models.first else { return "" }
        var lines: [String] = []
        lines.append("data: \(first.data), split \(first.split ?? "all"): \(first.count) pairs; recalls in percent "
            + "(identical pictures count as hits); speed measured in this run (\(first.blasThreads) BLAS thread"
            + "\(first.blasThreads == 1 ? "" : "s"), batch \(first.batch), image decoding excluded), relative to the first model")
        lines.append("")
        let header = ["model", "params", "MiB", "T>I R@1", "R@5", "R@10", "I>T R@1", "R@5", "R@10", "mean",
                      "images/s", "x", "texts/s", "x"]
        var rows: [[String]] = [header]
        let imageUp = imageSpeedup, textUp = textSpeedup
        for (index, report) in models.enumerated() {
            let recalls = [report.t2i.r1, report.t2i.r5, report.t2i.r10, report.i2t.r1, report.i2t.r5, report.i2t.r10,
                           report.meanRecall].map { String(format: "%.2f", $0) }
            rows.append([report.model, "\(report.parameters.total)", String(format: "%.2f", Double(report.sizeBytes) / 1_048_576)]
                + recalls
                + [String(format: "%.1f", report.imagesPerSecond), String(format: "%.2f", imageUp[index]),
                   String(format: "%.1f", report.textsPerSecond), String(format: "%.2f", textUp[index])])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            lines.append(row.enumerated().map { column, text in
                column == 0 ? text.padding(toLength: widths[0], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - text.count) + text
            }.joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }
}

/// A plain (non-usage) error of `conaclip eval`.
struct EvalError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
