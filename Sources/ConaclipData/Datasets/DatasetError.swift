/// Why a dataset could not be opened, or why one of its records is bad.
/// Every case names where the problem is: `FILE:LINE` for manifests,
/// `SHARD:MEMBER` for tar shards, or the file for whole-file problems.
///
/// Record-level cases (`isRecordLevel`) are the ones the `skip` policy of
/// `BadRecordPolicy` may skip and count; the others stop the reader whatever
/// the policy, because they concern the whole dataset (a missing manifest, a
/// missing column, an unreadable shard list).
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    // MARK: Whole-dataset problems (always stop)

    /// The manifest, shard or directory cannot be read.
    case unreadable(path: String, reason: String)
    /// The format cannot be recognised or the options contradict each other.
    case unsupportedFormat(path: String, reason: String)
    /// A CSV/TSV header lacks a column the reader needs.
    case missingColumn(file: String, column: String, available: [String])
    /// A shard list (directory, brace or glob pattern) names no tar shard.
    case noShards(pattern: String, reason: String)
    /// A split filter was given but no record says which split it belongs to.
    case noSplitInformation(path: String, split: String)
    /// Nothing is left to train or evaluate on.
    case empty(path: String, reason: String)
    /// An option or config value is out of range.
    case invalidOption(name: String, reason: String)

    // MARK: Record-level problems (skipped and counted under `on_bad_record: skip`)

    /// A JSONL line is not a JSON object.
    case invalidJSON(location: String, reason: String)
    /// A required key is absent or null.
    case missingKey(location: String, key: String)
    /// A key holds the wrong kind of value.
    case wrongType(location: String, key: String, expected: String)
    /// A CSV/TSV row is malformed (field count, quoting, encoding).
    case malformedRow(location: String, reason: String)
    /// The caption is empty or only whitespace.
    case emptyCaption(location: String)
    /// The image file does not exist or is not a regular file.
    case missingImage(location: String, path: String)
    /// The image bytes cannot be decoded (found at decode time) or read.
    case brokenImage(location: String, reason: String)
    /// A base64 image field is not valid base64.
    case invalidBase64(location: String)
    /// A record reuses the id of an earlier one.
    case duplicateId(location: String, id: String, firstLocation: String)
    /// A WebDataset key lacks its image or its caption, or has two of one.
    case incompleteSample(location: String, reason: String)
    /// A tar shard is damaged (bad header checksum, impossible size, cut short).
    case corruptShard(location: String, reason: String)

    /// Whether the skip policy may skip this error and go on.
    public var isRecordLevel: Bool {
        switch self {
        case .unreadable, .unsupportedFormat, .missingColumn, .noShards, .noSplitInformation, .empty, .invalidOption:
            return false
        case .invalidJSON, .missingKey, .wrongType, .malformedRow, .emptyCaption, .missingImage, .brokenImage,
             .invalidBase64, .duplicateId, .incompleteSample, .corruptShard:
            return true
        }
    }

    /// Where the problem is: `FILE:LINE`, `SHARD:MEMBER`, a file, or an option name.
    public var location: String {
        switch self {
        case let .unreadable(path, _), let .unsupportedFormat(path, _), let .noSplitInformation(path, _),
             let .empty(path, _):
            return path
        case let .missingColumn(file, _, _): return "\(file):1"
        case let .noShards(pattern, _): return pattern
        case let .invalidOption(name, _): return name
        case let .invalidJSON(location, _), let .missingKey(location, _), let .wrongType(location, _, _),
             let .malformedRow(location, _), let .emptyCaption(location), let .missingImage(location, _),
             let .brokenImage(location, _), let .invalidBase64(location), let .duplicateId(location, _, _),
             let .incompleteSample(location, _), let .corruptShard(location, _):
            return location
        }
    }

    /// What is wrong, without the location.
    public var reason: String {
        switch self {
        case let .unreadable(_, reason): return "cannot read: \(reason)"
        case let .unsupportedFormat(_, reason): return reason
        case let .missingColumn(_, column, available):
            return "no column \"\(column)\" in the header (columns: \(available.joined(separator: ", "))); "
                + "name the right one in the dataset options"
        case let .noShards(_, reason): return reason
        case let .noSplitInformation(_, split):
            return "split \"\(split)\" was requested but no record has a split field; "
                + "read every record instead (in a training config: split: all)"
        case let .empty(_, reason): return reason
        case let .invalidOption(_, reason): return reason
        case let .invalidJSON(_, reason): return "not a JSON object: \(reason)"
        case let .missingKey(_, key): return "missing key \"\(key)\""
        case let .wrongType(_, key, expected): return "\"\(key)\" must be \(expected)"
        case let .malformedRow(_, reason): return reason
        case .emptyCaption: return "empty caption"
        case let .missingImage(_, path): return "image file \(path) does not exist or is not a regular file"
        case let .brokenImage(_, reason): return reason
        case .invalidBase64: return "image field is not valid base64"
        case let .duplicateId(_, id, first): return "id \"\(id)\" was already used at \(first)"
        case let .incompleteSample(_, reason): return reason
        case let .corruptShard(_, reason): return reason
        }
    }

    public var description: String { "\(location): \(reason)" }
}
