import Foundation
import Logging

/// The actions behind injected faults.
enum FaultInjection {
    /// `message` as the outgoing `fault` leaves it: nil when it is dropped,
    /// the message itself after sleeping for a delay, a `corrupted` copy for
    /// a corruption, and `message` unchanged without a fault. Each fault is
    /// logged as a warning naming `what` (e.g. "gradient to worker-2").
    static func apply(_ fault: OutgoingFault?, to message: ZeroMQOutgoingMessage, describing what: String,
                      logger: Logger) -> ZeroMQOutgoingMessage? {
        switch fault {
        case .drop?:
            logger.warning("fault injection: dropped \(what)")
            return nil
        case let .delay(milliseconds)?:
            logger.warning("fault injection: delaying \(what) by \(milliseconds) ms")
            Thread.sleep(forTimeInterval: Double(milliseconds) / 1000)
            return message
        case .corrupt?:
            logger.warning("fault injection: corrupting \(what)")
            return corrupted(message)
        case nil:
            return message
        }
    }

    /// A copy of `message` with one byte flipped after its checksums were
    /// computed: in the metadata frame when it has one, else in the header.
    static func corrupted(_ message: ZeroMQOutgoingMessage) -> ZeroMQOutgoingMessage {
        var parts = message.parts
        let index = parts.count > 1 && parts[1].count > 0 ? 1 : 0
        var bytes: [UInt8]
        switch parts[index] {
        case let .bytes(value): bytes = value
        case let .shared(storage, range): bytes = storage.withUnsafeBytes { Array($0[range]) }
        }
        guard !bytes.isEmpty else { return message }
        bytes[bytes.count / 2] ^= 0x5A
        parts[index] = .bytes(bytes)
        return ZeroMQOutgoingMessage(parts: parts)
    }

    /// The marker recording that a once-per-run crash fault fired.
    static func markerPath(run: RunDirectory, kind: Fault.Kind, step: Int) -> String {
        run.path + "/.fault-\(kind.rawValue)-step-\(step)"
    }

    /// SIGKILLs this process for `kind` at `step`, unless the run directory
    /// records that it already did (so a resumed run goes past it).
    static func crashOnce(run: RunDirectory, kind: Fault.Kind, step: Int, logger: Logger) {
        let marker = markerPath(run: run, kind: kind, step: step)
        guard !FileManager.default.fileExists(atPath: marker) else { return }
        let descriptor = open(marker, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if descriptor >= 0 { fsync(descriptor); close(descriptor) }
        logger.critical("fault injection: \(kind.rawValue) at step \(step): SIGKILL")
        kill(getpid(), SIGKILL)
    }
}
