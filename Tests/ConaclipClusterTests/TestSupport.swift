import Foundation
import Logging
import Synchronization
@testable import ConaclipCluster

/// Log records captured by `CapturingLogHandler`.
final class CapturedLogs: Sendable {
    struct Entry: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let store = Mutex<[Entry]>([])

    var entries: [Entry] { store.withLock { $0 } }

    func append(_ entry: Entry) { store.withLock { $0.append(entry) } }

    /// A logger writing into this store.
    func logger(label: String = "test") -> Logger {
        Logger(label: label) { _ in CapturingLogHandler(logs: self) }
    }
}

/// A swift-log handler that records every message, for asserting on logs.
struct CapturingLogHandler: LogHandler {
    let logs: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        logs.append(.init(level: event.level, message: "\(event.message)",
                          metadata: merged.mapValues { "\($0)" }))
    }
}

/// Deterministic pseudo-random numbers (SplitMix64) for fuzzing and test data.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// `count` finite floats in [-1, 1) from `seed`.
func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in Float.random(in: -1..<1, using: &rng) }
}

/// Frames as a receiver would see them, from an outgoing message.
func receivedFrames(_ message: ZeroMQOutgoingMessage) -> [ZeroMQFrame] {
    message.parts.map { part in
        switch part {
        case let .bytes(bytes): return ZeroMQFrame(bytes: bytes)
        case let .shared(storage, range):
            return storage.withUnsafeBytes { ZeroMQFrame(bytes: UnsafeRawBufferPointer(rebasing: $0[range])) }
        }
    }
}
