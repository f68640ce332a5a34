/// Why a training config (configs/*.yaml) was refused. Every case names the
/// file, with the line where it is known (`source` is `FILE:LINE`), and the
/// key, and says what is allowed instead.
public enum TrainingConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be read.
    case unreadable(path: String, reason: String)
    /// The file is not valid YAML, or its top level is not a mapping.
    case syntax(source: String, reason: String)
    /// A key the trainer does not know (usually a typo), with the nearest known key.
    case unknownKey(source: String, key: String, suggestion: String?)
    /// A required key is absent.
    case missingKey(source: String, key: String)
    /// A key holds the wrong kind of value.
    case wrongType(source: String, key: String, expected: String, found: String)
    /// A key holds a value of the right kind that cannot be used.
    case invalidValue(source: String, key: String, reason: String)
    /// Two keys that exclude each other are both set (e.g. `steps` and `epochs`).
    case conflictingKeys(source: String, keys: [String], reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "cannot read training config \(path): \(reason)"
        case let .syntax(source, reason):
            return "\(source): not a valid training config: \(reason)"
        case let .unknownKey(source, key, suggestion):
            let hint = suggestion.map { " (did you mean \($0)?)" } ?? ""
            return "\(source): unknown key \(key)\(hint)"
        case let .missingKey(source, key):
            return "\(source): missing key \(key)"
        case let .wrongType(source, key, expected, found):
            return "\(source): \(key) must be \(expected), found \(found)"
        case let .invalidValue(source, key, reason):
            return "\(source): \(key): \(reason)"
        case let .conflictingKeys(source, keys, reason):
            return "\(source): \(keys.joined(separator: " and ")) cannot both be set: \(reason)"
        }
    }
}
