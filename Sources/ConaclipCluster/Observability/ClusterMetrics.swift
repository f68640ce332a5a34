import Foundation

/// A change in the set of workers, logged and written to metrics.jsonl as
/// `{"event": KIND, "worker": NAME, "worker_id": N, "reason": ..., "step": S,
/// "live_workers": L, "time": ISO-8601}`.
public struct MembershipEvent: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// Registered (or registered again).
        case joined
        /// Said goodbye, or its connection closed.
        case left
        /// Silent for longer than `cluster.dead_after`.
        case dead
        /// Too many refused results; told to stop and refused from then on.
        case quarantined
        /// One of its tasks went to another worker (death, refusal, straggling).
        case reassigned
        /// Refused at registration (configuration mismatch, quarantined earlier).
        case refused
    }

    public var kind: Kind
    public var worker: String
    public var workerID: UInt32
    public var reason: String
    /// Optimiser steps completed when it happened.
    public var step: Int
    public var liveWorkers: Int

    public init(kind: Kind, worker: String, workerID: UInt32, reason: String, step: Int, liveWorkers: Int) {
        self.kind = kind; self.worker = worker; self.workerID = workerID; self.reason = reason
        self.step = step; self.liveWorkers = liveWorkers
    }

    /// The metrics.jsonl line.
    public var jsonLine: String {
        "{\"event\":\(StepMetrics.quoted(kind.rawValue)),\"worker\":\(StepMetrics.quoted(worker)),\"worker_id\":\(workerID),"
            + "\"reason\":\(StepMetrics.quoted(reason)),\"step\":\(step),\"live_workers\":\(liveWorkers),"
            + "\"time\":\(StepMetrics.quoted(ISO8601DateFormatter().string(from: Date())))}"
    }
}

/// Where one distributed step's wall time went, as seen by the coordinator.
///
/// For every accepted result the worker reports its compute time `c`
/// (forward, loss, backward) and the coordinator measures the round trip
/// `r` from starting to send the task's inputs to having decoded the result.
/// With `W` the number of workers that delivered results this step:
/// - `compute` = coordinator compute (gather, reduction, clipping, AdamW) + sum(c) / W;
/// - `communication` = sum(r - c) / W: encoding, moving and decoding
///   messages both ways, as seen by one average worker;
/// - `waiting` = wall time - compute - communication (idle workers, a
///   straggler, a barrier), never negative.
public struct ClusterStepTiming: Sendable, Equatable {
    public var wall: Double = 0
    public var coordinatorCompute: Double = 0
    public var workerCompute: Double = 0
    public var roundTripOverhead: Double = 0
    public var workersUsed: Int = 0
    public var bytesSent: Int = 0
    public var bytesReceived: Int = 0
    /// Checkpoint writing after the step (not part of `wall`).
    public var checkpoint: Double = 0

    public init() {}

    public var compute: Double { coordinatorCompute + workerCompute / Double(max(1, workersUsed)) }
    public var communication: Double { roundTripOverhead / Double(max(1, workersUsed)) }
    public var waiting: Double { max(0, wall - compute - communication) }

    /// The fields added to the step's metrics line.
    public func fields(liveWorkers: Int) -> [(key: String, json: String)] {
        [("compute_time", StepMetrics.number(compute)), ("communication_time", StepMetrics.number(communication)),
         ("waiting_time", StepMetrics.number(waiting)), ("coordinator_time", StepMetrics.number(coordinatorCompute)),
         ("checkpoint_time", StepMetrics.number(checkpoint)),
         ("bytes_sent", "\(bytesSent)"), ("bytes_received", "\(bytesReceived)"),
         ("workers_used", "\(workersUsed)"), ("live_workers", "\(liveWorkers)")]
    }
}
