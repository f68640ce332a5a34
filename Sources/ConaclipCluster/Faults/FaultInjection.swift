import Foundation
import Logging

/// The actions behind injected faults.
enum FaultInjection {
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
