import Foundation

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
    /// Bad records skipped while opening (and verifying, if asked).
    public let report: BadRecordReport
    /// Where each record's extra fields are; empty when no record has any.
    let extraFields: [RecordExtras]

    /// A dataset over `records` with no extra fields (e.g. a subset of another one).
    public init(name: String, format: DatasetFormat, policy: BadRecordPolicy, split: String?,
                maxImageDimension: Int = ImageCodec.defaultMaxDimension,
                records: [PairRecord], report: BadRecordReport) {
        self.init(name: name, format: format, policy: policy, split: split, maxImageDimension: maxImageDimension,
                  records: records, extraFields: [], report: report)
    }

    init(name: String, format: DatasetFormat, policy: BadRecordPolicy, split: String?, maxImageDimension: Int,
         records: [PairRecord], extraFields: [RecordExtras], report: BadRecordReport) {
        precondition(extraFields.isEmpty || extraFields.count == records.count, "extras must be parallel to records")
        self.name = name
        self.format = format
        self.policy = policy
        self.split = split
        self.maxImageDimension = maxImageDimension
        self.records = records
        self.extraFields = extraFields
        self.report = report
    }

    public var count: Int { records.count }

    public func record(at index: Int) -> PairRecord { records[index] }

    /// The manifest fields of record `index` other than the ones
    /// `PairRecord` holds (e.g. `caption_zh`, `keywords`, a CSV `note`
    /// column): strings as they are, other JSON values as compact JSON text.
    /// JSONL extras are read back from the manifest on demand (so opening a
    /// large manifest costs nothing for them); this throws if the manifest
    /// changed or vanished since it was opened.
    public func extras(at index: Int) throws(DatasetError) -> [String: String] {
        guard !extraFields.isEmpty else { return [:] }
        switch extraFields[index] {
        case .none:
            return [:]
        case let .fields(fields):
            return fields
        case let .jsonLine(path, range):
            return try JSONLManifestReader.extras(path: path, range: range, location: records[index].location)
        }
    }

    /// Decodes the image of record `index`; errors name the record's location.
    public func loadImage(at index: Int) throws(DatasetError) -> RGBImage {
        try PairImageLoader.load(records[index], maxDimension: maxImageDimension)
    }

    /// Decodes `record`'s image with this dataset's size limit; errors name its location.
    public func loadImage(_ record: PairRecord) throws(DatasetError) -> RGBImage {
        try PairImageLoader.load(record, maxDimension: maxImageDimension)
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
    private(set) var extras: [RecordExtras] = []
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
    mutating func accept(_ record: PairRecord, extras recordExtras: RecordExtras = .none) throws(DatasetError) {
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
        if case .none = recordExtras {} else if !keepsExtras {
            keepsExtras = true
            extras = Array(repeating: .none, count: records.count)
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
                             records: kept, extraFields: keptExtras, report: finalReport)
    }
}

/// Where a record's extra manifest fields are.
enum RecordExtras: Sendable, Equatable {
    case none
    /// Parsed already (CSV/TSV columns).
    case fields([String: String])
    /// The byte range of the record's line in a JSONL manifest, parsed on demand.
    case jsonLine(path: String, range: Range<Int>)
}
