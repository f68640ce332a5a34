import ArgumentParser
import ConaclipCluster
import Foundation

/// `conaclip bench data`: how many images a second one core decodes and
/// preprocesses from a dataset, against merely reading their bytes in the
/// same run.
struct DataBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Time image decoding + CLIP preprocessing of a dataset on one core, against reading its bytes.",
        discussion: """
            Opens the dataset (JSONL, CSV, TSV, base64 TSV or WebDataset tar shards, detected from the \
            path unless --format is given), then for each pass reads every image's bytes once (the \
            baseline), and reads, decodes (PNG/JPEG) and preprocesses them (shortest-side bicubic \
            resize, centre crop, CLIP mean/std) once, single-threaded with reused buffers. Broken \
            images are counted and reported, not fatal. With --train-model PRESET, the same run also \
            times that model's training step (as `bench train-step`, one BLAS thread, --train-batch \
            pairs) and prints the headroom: images one core decodes and preprocesses per second over the \
            pairs one core's training step consumes per second (each pair needs one image); the image \
            size then defaults to the model's.
            """)

    @Option(help: ArgumentHelp("The dataset: a manifest, a tar shard, a directory of shards or a shard pattern.",
                               valueName: "path"))
    var dataset: String

    @Option(help: "Dataset format: jsonl, csv, tsv, base64-tsv or tar (default: from the path).")
    var format: String?

    @Option(help: "Keep only records of this split.")
    var split: String?

    @Option(help: "What to do with bad records while opening: stop or skip.")
    var onBadRecord = "stop"

    @Option(help: "Shortest side after resizing (default: the --train-model's image size, else 224).")
    var size: Int?

    @Option(help: "Side of the centre crop, the model's image size (default: the --train-model's image size, else 224).")
    var crop: Int?

    @Option(help: "Also time this model preset's training step and print the data-loading headroom over it.")
    var trainModel: String?

    @Option(help: "Pairs per training step for --train-model.")
    var trainBatch = 128

    @Option(help: "Timed training steps for --train-model (the median is used).")
    var trainSteps = 5

    @Option(help: "Measure only the first N records.")
    var limit: Int?

    @Option(help: "Passes over the records (totals are summed).")
    var passes = 1

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        guard passes > 0 else { throw ValidationError("--passes must be positive") }
        if let limit, limit <= 0 { throw ValidationError("--limit must be positive") }
        guard trainBatch > 0, trainSteps > 0 else { throw ValidationError("--train-batch and --train-steps must be positive") }
        if let format, DatasetFormat(rawValue: format) == nil {
            throw ValidationError("--format must be one of \(DatasetFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let policy = try BadRecordPolicy(configValue: onBadRecord)
        let options = DatasetOptions(format: format.flatMap(DatasetFormat.init(rawValue:)), split: split,
                                     onBadRecord: policy)
        let opened = try DatasetReader.open(path: dataset, options: options)
        let modelConfig = try trainModel.map { try ModelSource.config(from: $0) }
        let size = self.size ?? modelConfig?.visionConfig.imageSize ?? 224
        let crop = self.crop ?? modelConfig?.visionConfig.imageSize ?? 224
        let preprocessor = try CLIPImagePreprocessor(size: size, cropSize: crop)
        BLAS.setThreads(1)
        let report = try DecodeThroughput.measure(opened, preprocessor: preprocessor, limit: limit, passes: passes)
        var trainStep: TrainStepReport?
        if let trainModel, let modelConfig {
            trainStep = try TrainStepBench.measure(model: trainModel, config: modelConfig, batch: trainBatch, threads: 1,
                                                   steps: trainSteps, warmup: 2, seed: 0)
        }
        let headroom = trainStep.map { report.imagesPerSecond / $0.pairsPerSecond }
        let result = DataBenchReport(dataset: dataset, format: opened.format.rawValue, records: opened.count,
                                     size: size, crop: crop, measurement: report,
                                     imagesPerSecond: report.imagesPerSecond,
                                     readOnlyImagesPerSecond: report.readOnlyImagesPerSecond,
                                     slowdownOverRead: report.slowdownOverRead,
                                     skippedWhileOpening: opened.report.skippedCount,
                                     trainStep: trainStep, headroom: headroom)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            let images = report.images + report.brokenImages
            print("dataset:            \(dataset) (\(opened.format.rawValue), \(opened.count) records)")
            print("measured:           \(images) images in \(passes) pass(es), \(report.bytesPerPass) bytes a pass")
            print(String(format: "read only:          %.1f images/s (baseline)", report.readOnlyImagesPerSecond))
            print(String(format: "decode + preprocess: %.1f images/s on one core = %.1fx the read-only time",
                         report.imagesPerSecond, report.slowdownOverRead))
            print(String(format: "  read %.3f s  decode %.3f s  preprocess %.3f s (to %dx%d)",
                         report.readSeconds, report.decodeSeconds, report.preprocessSeconds, crop, crop))
            if report.brokenImages > 0 {
                print("broken images:      \(report.brokenImages) (first: \(report.firstBroken ?? "?"))")
            }
            if let trainStep, let headroom {
                print(String(format: "training step:      %@, batch %d, 1 thread: %.1f pairs/s (median of %d steps)",
                             trainStep.model, trainStep.batch, trainStep.pairsPerSecond, trainSteps))
                print(String(format: "headroom:           %.1fx (one core decodes and preprocesses %.1f images/s; "
                             + "one core's training step consumes %.1f pairs/s)",
                             headroom, report.imagesPerSecond, trainStep.pairsPerSecond))
            }
        }
        if let summary = opened.report.summary {
            FileHandle.standardError.write(Data("bench data: \(summary)\n".utf8))
        }
    }
}

/// What `conaclip bench data --json` prints.
struct DataBenchReport: Codable {
    var dataset: String
    var format: String
    var records: Int
    var size: Int
    var crop: Int
    var measurement: DecodeThroughputReport
    var imagesPerSecond: Double
    var readOnlyImagesPerSecond: Double
    var slowdownOverRead: Double
    var skippedWhileOpening: Int
    /// The --train-model's step, when asked for.
    var trainStep: TrainStepReport?
    /// Decode + preprocess images/s over the training step's pairs/s.
    var headroom: Double?
}
