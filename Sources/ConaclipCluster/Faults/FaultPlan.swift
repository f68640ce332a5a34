import Foundation
import Synchronization

/// One injected fault, written `KIND@key=value,key=value`:
///
/// | kind | keys | effect |
/// |---|---|---|
/// | `worker-exit` | `step`, `worker`, `phase` | the worker SIGKILLs itself when a task of that step arrives |
/// | `worker-stall` | `step`, `worker`, `phase`, `seconds` | the worker freezes: SIGSTOP itself (no `seconds`), or stops computing and heartbeating for `seconds` |
/// | `nan-gradient` | `step`, `worker`, `count` | the worker sends a gradient holding NaN |
/// | `drop` | `type`, `step`, `worker`, `side`, `count` | the sender drops a message of that type |
/// | `delay` | `type`, `ms`, `step`, `worker`, `side`, `count` | the sender waits `ms` before sending it |
/// | `corrupt` | `type`, `step`, `worker`, `side`, `count` | the sender flips a byte of it after the checksum was computed |
/// | `coordinator-crash` | `step` | the coordinator SIGKILLs itself once step `step`'s results are in, before applying it |
/// | `checkpoint-crash` | `step` | the coordinator SIGKILLs itself while writing step `step`'s checkpoint (staged, not yet renamed) |
///
/// `step` counts optimiser steps from 1, as the progress display does
/// (absent: any step). `worker` is the worker number the coordinator gave at
/// registration (absent: any worker). `phase` is `embeddings`, `gradient` or
/// `shard-local` (default: gradient for `worker-exit`/`worker-stall`). `type`
/// is a message type name (`gradient`, `embeddings`, `assign`, `gathered`,
/// `weights`, `heartbeat`, ...). `side` is `coordinator` or `worker`
/// (default: whichever sends that type). `count` is how many times the fault
/// fires in each process (default 1; 0 = every time). The two coordinator
/// crashes fire once per run directory (a marker file records them), so a
/// resumed run goes past them.
public struct Fault: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case workerExit = "worker-exit"
        case workerStall = "worker-stall"
        case nanGradient = "nan-gradient"
        case drop
        case delay
        case corrupt
        case coordinatorCrash = "coordinator-crash"
        case checkpointCrash = "checkpoint-crash"
    }

    /// Which side of the connection sends a message.
    public enum Side: String, Sendable {
        case coordinator, worker
    }

    public var kind: Kind
    /// 1-based optimiser step, or nil for any.
    public var step: Int?
    public var worker: UInt32?
    public var phase: ShardPhase?
    public var messageType: MessageType?
    public var side: Side?
    public var milliseconds: Int = 0
    public var seconds: Double?
    /// Firings per process; 0 = unlimited.
    public var count: Int = 1
    /// The text it was parsed from.
    public var spec: String

    public var description: String { spec }

    static let allowedKeys: [Kind: Set<String>] = [
        .workerExit: ["step", "worker", "phase"],
        .workerStall: ["step", "worker", "phase", "seconds"],
        .nanGradient: ["step", "worker", "count"],
        .drop: ["type", "step", "worker", "side", "count"],
        .delay: ["type", "ms", "step", "worker", "side", "count"],
        .corrupt: ["type", "step", "worker", "side", "count"],
        .coordinatorCrash: ["step"],
        .checkpointCrash: ["step"],
    ]

    /// Parses one spec; errors name the spec and what is wrong with it.
    public init(parsing text: String) throws(FaultSpecError) {
        let spec = text.trimmingCharacters(in: .whitespaces)
        func fail(_ reason: String) -> FaultSpecError { FaultSpecError(spec: spec, reason: reason) }
        let parts = spec.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        guard let kind = Kind(rawValue: String(parts[0])) else {
            throw fail("unknown fault kind \"\(parts[0])\"; known: \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.kind = kind
        self.spec = spec
        var values: [String: String] = [:]
        if parts.count == 2 {
            for item in parts[1].split(separator: ",") {
                let pair = item.split(separator: "=", maxSplits: 1)
                guard pair.count == 2 else { throw fail("\"\(item)\" is not key=value") }
                let key = String(pair[0]).trimmingCharacters(in: .whitespaces)
                guard Self.allowedKeys[kind, default: []].contains(key) else {
                    throw fail("\(kind.rawValue) takes \(Self.allowedKeys[kind, default: []].sorted().joined(separator: ", ")), not \(key)")
                }
                values[key] = String(pair[1]).trimmingCharacters(in: .whitespaces)
            }
        }
        func integer(_ key: String, minimum: Int) throws(FaultSpecError) -> Int? {
            guard let text = values[key] else { return nil }
            guard let value = Int(text), value >= minimum else { throw fail("\(key) must be an integer >= \(minimum), got \(text)") }
            return value
        }
        step = try integer("step", minimum: 1)
        if let worker = try integer("worker", minimum: 1) { self.worker = UInt32(clamping: worker) }
        if let count = try integer("count", minimum: 0) { self.count = count }
        if let ms = try integer("ms", minimum: 0) { milliseconds = ms }
        if let text = values["seconds"] {
            guard let value = Double(text), value.isFinite, value > 0 else { throw fail("seconds must be a positive number, got \(text)") }
            seconds = value
        }
        if let text = values["phase"] {
            guard let phase = [ShardPhase.embeddings, .gradient, .shardLocal].first(where: { $0.description == text }) else {
                throw fail("phase must be embeddings, gradient or shard-local, got \(text)")
            }
            self.phase = phase
        }
        if let text = values["type"] {
            guard let type = MessageType.allCases.first(where: { $0.description == text }) else {
                throw fail("unknown message type \(text); known: \(MessageType.allCases.map(\.description).joined(separator: ", "))")
            }
            messageType = type
        }
        if let text = values["side"] {
            guard let side = Side(rawValue: text) else { throw fail("side must be coordinator or worker, got \(text)") }
            self.side = side
        }
        switch kind {
        case .drop, .delay, .corrupt:
            guard messageType != nil else { throw fail("\(kind.rawValue) needs type=MESSAGE_TYPE") }
            if kind == .delay && values["ms"] == nil { throw fail("delay needs ms=MILLISECONDS") }
        case .coordinatorCrash, .checkpointCrash, .workerExit, .workerStall, .nanGradient:
            if kind != .nanGradient && step == nil { throw fail("\(kind.rawValue) needs step=N") }
        }
    }

    /// The side that sends `type` when `side` is not given.
    static func sender(of type: MessageType) -> Side? {
        switch type {
        case .register, .embeddings, .gradient, .goodbye: return .worker
        case .welcome, .weights, .assign, .gathered, .resultAck, .shutdown: return .coordinator
        case .heartbeat, .error: return nil
        }
    }
}

/// A fault spec that does not parse.
public struct FaultSpecError: Error, Equatable, CustomStringConvertible {
    public var spec: String
    public var reason: String
    /// Where the spec came from (`FILE:LINE` or the environment variable).
    public var location: String?

    public var description: String {
        "\(location.map { "\($0): " } ?? "")fault \"\(spec)\": \(reason)"
    }
}

/// What the sender of a message does to it.
public enum OutgoingFault: Sendable, Equatable {
    case drop
    case delay(milliseconds: Int)
    case corrupt
}

/// What a worker does on receiving a task.
public enum WorkerFault: Sendable, Equatable {
    /// SIGKILL itself.
    case exit
    /// SIGSTOP itself (nil) or stop for this many seconds.
    case stall(seconds: Double?)
}

/// The faults one process injects, with how often each has fired.
/// Thread-safe: a worker's network and compute threads share it.
public final class FaultPlan: Sendable {
    /// The environment variable holding faults (separated by `;`), added to the config's.
    public static let environmentVariable = "CONACLIP_FAULTS"

    public let faults: [Fault]
    private let fired: Mutex<[Int]>

    public init(_ faults: [Fault] = []) {
        self.faults = faults
        fired = Mutex(Array(repeating: 0, count: faults.count))
    }

    /// No faults.
    public static let none = FaultPlan()

    public var isEmpty: Bool { faults.isEmpty }

    /// Parses the config's entries and the environment's `CONACLIP_FAULTS`.
    public static func parse(config entries: [TrainingConfig.FaultEntry],
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws(FaultSpecError) -> FaultPlan {
        var faults: [Fault] = []
        for entry in entries {
            do { faults.append(try Fault(parsing: entry.spec)) } catch {
                var located = error
                located.location = entry.location
                throw located
            }
        }
        if let text = environment[environmentVariable] {
            for item in text.split(separator: ";") where !item.trimmingCharacters(in: .whitespaces).isEmpty {
                do { faults.append(try Fault(parsing: String(item))) } catch {
                    var located = error
                    located.location = environmentVariable
                    throw located
                }
            }
        }
        return FaultPlan(faults)
    }

    /// Fires (counts) the first matching fault and returns it.
    private func fire(_ matches: (Fault) -> Bool) -> Fault? {
        fired.withLock { counts in
            for (index, fault) in faults.enumerated() where matches(fault) {
                if fault.count > 0 && counts[index] >= fault.count { continue }
                counts[index] += 1
                return fault
            }
            return nil
        }
    }

    private static func matches(_ fault: Fault, step: Int?, worker: UInt32?) -> Bool {
        if let wanted = fault.step, wanted != step { return false }
        if let wanted = fault.worker, wanted != worker { return false }
        return true
    }

    /// What worker `worker` does on receiving a `phase` task of 1-based step `step`.
    public func workerFault(step: Int, worker: UInt32, phase: ShardPhase) -> WorkerFault? {
        let fault = fire { fault in
            guard fault.kind == .workerExit || fault.kind == .workerStall else { return false }
            guard fault.phase.map({ $0 == phase }) ?? (phase != .embeddings) else { return false }
            return Self.matches(fault, step: step, worker: worker)
        }
        guard let fault else { return nil }
        return fault.kind == .workerExit ? .exit : .stall(seconds: fault.seconds)
    }

    /// Whether worker `worker` poisons its gradient of 1-based step `step`.
    public func poisonGradient(step: Int, worker: UInt32) -> Bool {
        fire { $0.kind == .nanGradient && Self.matches($0, step: step, worker: worker) } != nil
    }

    /// What `side` does to an outgoing `type` message about 1-based step `step`
    /// for (or from) worker `worker`.
    public func outgoing(_ type: MessageType, step: Int?, worker: UInt32?, side: Fault.Side) -> OutgoingFault? {
        let fault = fire { fault in
            guard [.drop, .delay, .corrupt].contains(fault.kind), fault.messageType == type else { return false }
            guard (fault.side ?? Fault.sender(of: type) ?? side) == side else { return false }
            return Self.matches(fault, step: step, worker: worker)
        }
        guard let fault else { return nil }
        switch fault.kind {
        case .drop: return .drop
        case .delay: return .delay(milliseconds: fault.milliseconds)
        default: return .corrupt
        }
    }

    /// The coordinator crash fault for 1-based step `step`, if any (not counted: the caller records it).
    public func coordinatorCrash(kind: Fault.Kind, step: Int) -> Fault? {
        faults.first { $0.kind == kind && $0.step == step }
    }
}
