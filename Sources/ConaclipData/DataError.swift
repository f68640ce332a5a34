/// Errors of the data layer that are about files and their contents.
public enum DataError: Error, Equatable, CustomStringConvertible {
    case invalidFile(path: String, reason: String)
    case image(path: String, reason: String)
    case model(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidFile(path, reason): return "\(path): \(reason)"
        case let .image(path, reason): return "\(path): \(reason)"
        case let .model(path, reason): return "model \(path): \(reason)"
        }
    }
}
