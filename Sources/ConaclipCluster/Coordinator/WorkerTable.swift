/// A task of the current step: one micro-shard in one phase.
struct TaskKey: Hashable, Sendable, CustomStringConvertible {
    var step: Int
    var phase: ShardPhase
    var shard: Int

    var description: String { "step \(step + 1) shard \(shard) (\(phase))" }
}

/// What the coordinator knows about one registered worker.
final class WorkerEntry {
    let id: UInt32
    let routingID: [UInt8]
    var name: String
    var host: String
    var processID: UInt32
    /// When anything was last heard from it.
    var lastHeard: ContinuousClock.Instant
    /// Set up and able to take tasks (from its heartbeats).
    var ready = false
    /// The student weights version it holds (as far as the coordinator sent).
    var weightsVersion: Int?
    /// Whether it was sent the teacher's weights.
    var teacherSent = false
    /// The step whose gathered embeddings it holds.
    var gatheredStep: Int?
    /// The tasks sent to it whose results have not come back, oldest first
    /// (it computes them in this order), each with when its inputs started
    /// going out.
    var inFlight: [(key: TaskKey, sent: ContinuousClock.Instant)] = []
    /// When its last accepted result arrived: a task queued behind another
    /// starts being timed then (see `Coordinator.recordTiming`).
    var lastResultAt: ContinuousClock.Instant?
    /// The shard it last embedded (its activations are still held), for gradient affinity.
    var lastEmbedded: TaskKey?
    var badResults = 0
    var tasksDone = 0
    /// Assignments sent since it (last) registered; its heartbeats report how many arrived.
    var assignmentsSent: UInt64 = 0
    /// Since when its heartbeats report fewer assignments than were sent.
    var assignmentGapSince: ContinuousClock.Instant?

    init(id: UInt32, routingID: [UInt8], registration: WorkerRegistration, now: ContinuousClock.Instant) {
        self.id = id
        self.routingID = routingID
        name = registration.name
        host = registration.hostname
        processID = registration.processID
        lastHeard = now
    }

    /// No task sent to it is outstanding.
    var isIdle: Bool { inFlight.isEmpty }

    /// The outstanding task `key`, if it holds it.
    func inFlightIndex(of key: TaskKey) -> Int? { inFlight.firstIndex { $0.key == key } }

    /// Forgets what was sent to it (after it re-registered or asked again).
    func forgetInputs() {
        assignmentsSent = 0
        assignmentGapSince = nil
        weightsVersion = nil
        teacherSent = false
        gatheredStep = nil
        lastEmbedded = nil
    }
}

/// The state of one task in the current phase.
struct TaskState {
    var done = false
    /// Workers computing it, with when each started.
    var holders: [UInt32: ContinuousClock.Instant] = [:]
    /// Workers it should not go to again this phase (they returned a refused result).
    var avoid: Set<UInt32> = []
}

/// Typical task durations per phase (the last few accepted round trips),
/// for the straggler threshold.
struct TaskDurations {
    private var recent: [ShardPhase: [Double]] = [:]
    private let keep = 32

    mutating func record(_ seconds: Double, phase: ShardPhase) {
        var list = recent[phase, default: []]
        list.append(seconds)
        if list.count > keep { list.removeFirst(list.count - keep) }
        recent[phase] = list
    }

    /// The median of the recent durations of `phase`, or nil before any.
    func typical(_ phase: ShardPhase) -> Double? {
        guard let list = recent[phase], !list.isEmpty else { return nil }
        let sorted = list.sorted()
        return sorted[sorted.count / 2]
    }
}
