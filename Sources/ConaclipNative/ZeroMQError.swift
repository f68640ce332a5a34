import CZeroMQ
import Foundation

/// An error from the ZeroMQ bindings: which operation failed and why, in
/// words a user can act on.
public enum ZeroMQError: Error, Equatable, CustomStringConvertible {
    /// A libzmq call failed; `errno` is libzmq's error number.
    case failed(operation: String, errno: Int32)
    /// A bounded wait ran out before the operation could complete.
    case timedOut(operation: String, milliseconds: Int)
    /// A received message broke a limit set on the socket (frames or bytes);
    /// the rest of the message was discarded.
    case limitExceeded(what: String, limit: Int, actual: Int)
    /// An argument was malformed (for example a CURVE key that is not 40 Z85 characters).
    case invalidArgument(String)
    /// The socket was already closed.
    case closed(operation: String)

    /// The failed call's errno, if this is a libzmq failure.
    public var errno: Int32? {
        if case let .failed(_, code) = self { return code }
        return nil
    }

    /// A ROUTER with `routerMandatory` was asked to send to a peer it does
    /// not know (never connected, or disconnected).
    public var isHostUnreachable: Bool { errno == EHOSTUNREACH }

    /// The context was shut down or terminated while the call was running.
    public var isContextTerminated: Bool { errno == ETERM }

    public var description: String {
        switch self {
        case let .failed(operation, code):
            return "ZeroMQ \(operation) failed: \(String(cString: zmq_strerror(code))) (errno \(code))"
        case let .timedOut(operation, milliseconds):
            return "ZeroMQ \(operation) did not complete within \(milliseconds) ms"
        case let .limitExceeded(what, limit, actual):
            return "received message exceeds the \(what) limit (\(actual) > \(limit)); it was discarded"
        case let .invalidArgument(text):
            return "invalid ZeroMQ argument: \(text)"
        case let .closed(operation):
            return "ZeroMQ \(operation) on a closed socket"
        }
    }

    /// The error for the libzmq call that just failed (reads `zmq_errno`).
    static func last(_ operation: String) -> ZeroMQError {
        .failed(operation: operation, errno: zmq_errno())
    }
}

/// Milliseconds of a `Duration`, clamped to what libzmq accepts (0 ... Int32.max).
@inline(__always)
func zeroMQMilliseconds(_ duration: Duration) -> Int {
    let (seconds, attoseconds) = duration.components
    if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
    if seconds >= Int64(Int32.max / 1000) { return Int(Int32.max) }
    return Int(seconds) * 1000 + Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
}

/// The text of a NUL-terminated C character buffer.
func zeroMQString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
