/// A dataset read by `DatasetReader.open`: the good records in manifest
/// order (after the split filter), any extra manifest fields, and the report
/// of bad records that were skipped. Images stay on disk (or in memory for
/// base64 TSV) until `loadImage` decodes them.
public struct OpenedDataset: PairDataset {
    /// The path the dataset was opened from.
    public let name: String
    public let format: DatasetFormat
    /// The policy the dataset was opened with; `loadImage(_:report:)` applies it at decode time.
    public let policy: BadRecordPolicy
    /// The split filter, if any.
    public let split: String?
    /// Largest accepted image side at decode time.
    public let maxImageDimension: Int
    public let records: [PairRecord]
    /// Per-record manifest fields other than the ones `PairRecord` holds
    /// (e.g. `caption_zh`, `keywords`), parallel to `records`; non-string
    /// JSON values are kept as compact JSON text. Empty when the format has none.
    public let extras: [[String: String]]
    /// Bad records skipped while opening (and verifying, if asked).
    public let report: BadRecordReport

    public init(name: String, format: DatasetFormat, policy: BadRecordPolicy, split: String?,
                maxImageDimension: Int = ImageCodec.defaultMaxDimension,
                records: [PairRecord], extras: [[String: String]], report: BadRecordReport) {
        precondition(extras.isEmpty || extras.count == records.count, "extras must be parallel to records")
        self.name = name
        self.format = format
        self.policy = policy
        self.split = split
        self.maxImageDimension = maxImageDimension
        self.records = records
        self.extras = extras
        self.report = report
    }

    public var count: Int { records.count }

    public func record(at index: Int) -> PairRecord { records[index] }

    /// The extra manifest fields of record `index` (empty when there are none).
    public func extras(at index: Int) -> [String: String] {
        extras.isEmpty ? [:] : extras[index]
    }

    /// Decodes the image of record `index`; errors name the record's location.
    public func loadImage(at index: Int) throws(DatasetError) -> RGBImage {
        try PairImageLoader.load(records[index], maxDimension: maxImageDimension)
    }

    /// Decodes a record's image under this dataset's policy: nil (and one
    /// more skipped record in `report`) when the bytes are broken and the
    /// policy is `skip`; throws under `stop`.
    public func loadImage(_ record: PairRecord, report: inout BadRecordReport) throws(DatasetError) -> RGBImage? {
        try PairImageLoader.load(record, policy: policy, report: &report, maxDimension: maxImageDimension)
    }
}

/// Gathers records from a format reader, applying the checks every format
/// shares (split filter, empty caption, missing image file, duplicate id)
/// and the bad-record policy.
struct RecordCollector {
    let path: String
    let options: DatasetOptions
    private(set) var records: [PairRecord] = []
    private(set) var extras: [[String: String]] = []
    private(set) var report = BadRecordReport()
    private var firstLocationOfId: [String: String] = [:]
    private var sawSplit = false
    private var keepsExtras = false

    init(path: String, options: DatasetOptions) {
        self.path = path
        self.options = options
    }

    /// Whether a record of `split` passes the split filter (and notes that
    /// the dataset has split information). Readers call it before the other
    /// checks, so bad records of other splits are not counted.
    mutating func wants(split: String?) -> Bool {
        if split != nil { sawSplit = true }
        guard let wanted = options.split else { return true }
        return split == wanted
    }

    /// Checks and keeps (or filters out) one parsed record.
    mutating func accept(_ record: PairRecord, extras recordExtras: [String: String] = [:]) throws(DatasetError) {
        guard wants(split: record.split) else { return }
        if record.caption.allSatisfy({ $0.isWhitespace }) {
            return try reject(.emptyCaption(location: record.location))
        }
        if options.checkImageFiles, case let .file(imagePath) = record.image, !DatasetFiles.isRegularFile(imagePath) {
            return try reject(.missingImage(location: record.location, path: imagePath))
        }
        if let first = firstLocationOfId[record.id] {
            return try reject(.duplicateId(location: record.location, id: record.id, firstLocation: first))
        }
        firstLocationOfId[record.id] = record.location
        if !recordExtras.isEmpty && !keepsExtras {
            keepsExtras = true
            extras = Array(repeating: [:], count: records.count)
        }
        records.append(record)
        if keepsExtras { extras.append(recordExtras) }
    }

    /// Applies the policy to a bad record: throws under `stop`, counts under `skip`.
    mutating func reject(_ error: DatasetError) throws(DatasetError) {
        try report.handle(error, policy: options.onBadRecord)
    }

    /// The dataset, after the whole-dataset checks (split present, not empty)
    /// and the optional decode pass of `verifyImages`.
    func finish(format: DatasetFormat) throws(DatasetError) -> OpenedDataset {
        if let split = options.split, !sawSplit {
            throw .noSplitInformation(path: path, split: split)
        }
        var kept = records
        var keptExtras = extras
        var finalReport = report
        if options.verifyImages {
            kept = []
            keptExtras = []
            for (i, record) in records.enumerated() {
                let image = try PairImageLoader.load(record, policy: options.onBadRecord, report: &finalReport,
                                                     maxDimension: options.maxImageDimension)
                if image != nil {
                    kept.append(record)
                    if !extras.isEmpty { keptExtras.append(extras[i]) }
                }
            }
        }
        if kept.isEmpty {
            let scope = options.split.map { " in split \"\($0)\"" } ?? ""
            let skipped = finalReport.summary.map { "; \($0)" } ?? ""
            throw .empty(path: path, reason: "no usable records\(scope)\(skipped)")
        }
        return OpenedDataset(name: path, format: format, policy: options.onBadRecord, split: options.split,
                             maxImageDimension: options.maxImageDimension,
                             records: kept, extras: keptExtras, report: finalReport)
    }
}
