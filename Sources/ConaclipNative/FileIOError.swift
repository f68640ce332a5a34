import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed file-system call, naming the path, what was being done and the
/// operating system's reason, so the user can fix permissions, space or paths.
/// Raised by the mapped files here and by the checkpoint and safetensors I/O
/// of the model layer.
public struct FileIOError: Error, Equatable, Sendable, CustomStringConvertible {
    public let path: String
    /// What was being attempted, e.g. "open", "map", "rename to /x/y".
    public let operation: String
    /// The `errno` value (0 when the failure was not a system call, e.g. a short read).
    public let code: Int32

    public init(path: String, operation: String, code: Int32) {
        self.path = path; self.operation = operation; self.code = code
    }

    public var description: String {
        let reason = code == 0 ? "unexpected end of file" : String(cString: strerror(code))
        return "cannot \(operation) \(path): \(reason)"
    }

    /// Whether the file did not exist.
    public var isNotFound: Bool { code == ENOENT }

    /// The error of the system call that just failed (`errno` as it is now).
    public static func last(_ operation: String, _ path: String) -> FileIOError {
        FileIOError(path: path, operation: operation, code: errno)
    }
}
