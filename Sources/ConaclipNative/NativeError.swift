import Foundation

/// Errors raised by the native bindings, with messages a user can act on.
public enum NativeError: Error, Equatable, CustomStringConvertible {
    case execFailed(path: String, errno: Int32)

    public var description: String {
        switch self {
        case let .execFailed(path, code):
            return "cannot re-execute \(path): \(String(cString: strerror(code)))"
        }
    }
}
