/// Why a model configuration (a Hugging Face `config.json` or a YAML preset)
/// could not be read or does not describe a working CLIP. Each case names
/// the file (`source`) and the key, and says what to change.
public enum ModelConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be read.
    case io(FileIOError)
    /// The file is not valid JSON / YAML.
    case syntax(source: String, reason: String)
    /// A key the configuration needs is absent.
    case missingKey(source: String, key: String)
    /// A key holds the wrong kind of value.
    case wrongType(source: String, key: String, expected: String, found: String)
    /// A key holds a value of the right kind that cannot be used.
    case invalidValue(source: String, key: String, reason: String)
    /// A key that presets do not know (usually a typo), with the nearest known key.
    case unknownKey(source: String, key: String, suggestion: String?)
    /// The configuration parsed but describes no working model; each problem says what to fix.
    case invalid(source: String, problems: [String])

    public var description: String {
        switch self {
        case let .io(error):
            return error.description
        case let .syntax(source, reason):
            return "\(source): not valid: \(reason)"
        case let .missingKey(source, key):
            return "\(source): missing key \(key)"
        case let .wrongType(source, key, expected, found):
            return "\(source): \(key) must be \(expected), found \(found)"
        case let .invalidValue(source, key, reason):
            return "\(source): \(key): \(reason)"
        case let .unknownKey(source, key, suggestion):
            let hint = suggestion.map { " (did you mean \($0)?)" } ?? ""
            return "\(source): unknown key \(key)\(hint)"
        case let .invalid(source, problems):
            return "\(source): invalid CLIP configuration:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
        }
    }
}
