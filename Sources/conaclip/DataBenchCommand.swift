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
            images are counted and reported, not fatal.
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

    @Option(help: "Shortest side after resizing.")
    var size = 224

    @Option(help: "Side of the centre crop (the model's image size).")
    var crop = 224

    @Option(help: "Measure only the first N records.")
    var limit: Int?

    @Option(help: "Passes over the records (totals are summed).")
    var passes = 1

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        guard passes > 0 else { throw ValidationError("--passes must be positive") }
        if let limit, limit <= 0 { throw ValidationError("--limit must be positive") }
        if let format, DatasetFormat(rawValue: format) == nil {
            throw ValidationError("--format must be one of \(DatasetFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let policy = try BadRecordPolicy(configValue: onBadRecord)
        let options = DatasetOptions(format: format.flatMap(DatasetFormat.init(rawValue:)), split: split,
                                     onBadRecord: policy)
        let opened = try DatasetReader.open(path: dataset, options: options)
        let preprocessor = try CLIPImagePreprocessor(size: size, cropSize: crop)
        let report = try DecodeThroughput.measure(opened, preprocessor: preprocessor, limit: limit, passes: passes)
        let result = DataBenchReport(dataset: dataset, format: opened.format.rawValue, records: opened.count,
                                     size: size, crop: crop, measurement: report,
                                     imagesPerSecond: report.imagesPerSecond,
                                     readOnlyImagesPerSecond: report.readOnlyImagesPerSecond,
                                     slowdownOverRead: report.slowdownOverRead,
                                     skippedWhileOpening: opened.report.skippedCount)
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
}
