/// What a reader does with a bad record (config key `on_bad_record`):
/// `stop` (the default) throws the record's `DatasetError`; `skip` leaves the
/// record out, counts it in a `BadRecordReport` and goes on.
///
/// Problems visible when a dataset is opened (bad JSON, missing keys or
/// columns in a row, empty captions, missing image files, bad base64,
/// incomplete tar samples) are handled by the reader. Broken image bytes are
/// only found when an image is decoded: `loadImage(_:policy:report:)` applies
/// the same policy there (returns nil and counts under `skip`), or
/// `DatasetOptions.verifyImages` decodes every image at open time so the
/// policy is applied before training starts.
public enum BadRecordPolicy: String, Sendable, Equatable, CaseIterable {
    case stop
    case skip

    /// The config key that selects the policy.
    public static let configKey = "on_bad_record"

    /// Parses a config value (`stop` or `skip`; `fail` is accepted as a
    /// synonym of `stop`), naming the key on failure.
    public init(configValue: String) throws(DatasetError) {
        if configValue == "fail" { self = .stop; return }
        guard let policy = BadRecordPolicy(rawValue: configValue) else {
            throw .invalidOption(name: Self.configKey, reason: "must be \"stop\" or \"skip\", got \"\(configValue)\"")
        }
        self = policy
    }
}

/// One skipped bad record: where it is and why it was skipped.
public struct SkippedRecord: Sendable, Equatable {
    public var location: String
    public var reason: String

    public init(location: String, reason: String) {
        self.location = location
        self.reason = reason
    }
}

/// How many bad records were skipped, with the first few of them, so that a
/// command can end with "skipped N bad records (first: FILE:LINE: reason)".
public struct BadRecordReport: Sendable, Equatable {
    /// How many locations `firstSkipped` keeps.
    public static let keptLocations = 5

    /// Every skipped record, counted.
    public private(set) var skippedCount = 0
    /// The first `keptLocations` skipped records, in the order they were met.
    public private(set) var firstSkipped: [SkippedRecord] = []

    public init() {}

    /// Counts one skipped record.
    public mutating func add(_ error: DatasetError) {
        add(SkippedRecord(location: error.location, reason: error.reason))
    }

    /// Counts one skipped record.
    public mutating func add(_ record: SkippedRecord) {
        skippedCount += 1
        if firstSkipped.count < Self.keptLocations { firstSkipped.append(record) }
    }

    /// Adds another report's counts after this one's (e.g. decode-time skips
    /// after open-time skips).
    public mutating func merge(_ other: BadRecordReport) {
        for record in other.firstSkipped where firstSkipped.count < Self.keptLocations {
            firstSkipped.append(record)
        }
        skippedCount += other.skippedCount
    }

    /// "skipped N bad records (first: LOCATION: reason)", or nil when none were skipped.
    public var summary: String? {
        guard let first = firstSkipped.first else { return nil }
        let noun = skippedCount == 1 ? "record" : "records"
        return "skipped \(skippedCount) bad \(noun) (first: \(first.location): \(first.reason))"
    }

    /// Applies `policy` to `error`: rethrows it under `stop` or when it is not
    /// a record-level problem, counts it under `skip`.
    public mutating func handle(_ error: DatasetError, policy: BadRecordPolicy) throws(DatasetError) {
        guard policy == .skip, error.isRecordLevel else { throw error }
        add(error)
    }
}
