import Dispatch
import Foundation
import Synchronization

/// What the network thread hands the compute thread, in arrival order.
enum WorkerInbound: Sendable {
    /// Registered with a coordinator (run id, worker number, run description).
    case welcome(Welcome, runID: UInt64, workerID: UInt32)
    /// A validated message of the current coordinator, with when it arrived.
    case message(DecodedMessage, arrived: ContinuousClock.Instant)
    /// The coordinator changed or forgot us: drop per-coordinator state.
    case reset
    /// Stop the compute thread.
    case stop
}

/// A message the compute thread wants sent, with what fault injection needs to know.
struct WorkerOutbound: Sendable {
    var message: ZeroMQOutgoingMessage
    var type: MessageType
    /// 0-based step the message is about.
    var step: Int?
}

/// State shared by a worker's network thread and compute thread.
final class WorkerShared: Sendable {
    private let inbox = Mutex<[WorkerInbound]>([])
    private let inboxSignal = DispatchSemaphore(value: 0)
    private let outbox = Mutex<[WorkerOutbound]>([])
    /// Set up and able to take tasks.
    let ready = Atomic<Bool>(false)
    /// Assignments handed to the compute thread and not finished yet.
    let pending = Atomic<Int>(0)
    /// Assignments received since the last welcome.
    let assignmentsReceived = Atomic<UInt64>(0)
    /// Uptime (ns) until which the worker plays dead (worker-stall with seconds).
    let stalledUntil = Atomic<UInt64>(0)
    /// A reason to stop the worker with an error (set by the compute thread).
    let fatal = Mutex<ClusterError?>(nil)
    /// The fault plan (the environment's, then the config's added at the welcome).
    let faults: Mutex<FaultPlan>
    /// The worker number the coordinator gave (0 before a welcome).
    let workerID = Atomic<UInt32>(0)
    let computeExited = DispatchSemaphore(value: 0)
    /// The inproc endpoint the compute thread signals new outbox items on.
    let wakeEndpoint: String

    init(faults: FaultPlan, wakeEndpoint: String) {
        self.faults = Mutex(faults)
        self.wakeEndpoint = wakeEndpoint
    }

    func push(_ item: WorkerInbound) {
        inbox.withLock { $0.append(item) }
        inboxSignal.signal()
    }

    /// The next inbound item, waiting for one.
    func next() -> WorkerInbound {
        inboxSignal.wait()
        return inbox.withLock { $0.removeFirst() }
    }

    func queue(_ item: WorkerOutbound) { outbox.withLock { $0.append(item) } }

    func drainOutbox() -> [WorkerOutbound] {
        outbox.withLock { items in
            defer { items.removeAll() }
            return items
        }
    }

    var isStalled: Bool { stalledUntil.load(ordering: .relaxed) > DispatchTime.now().uptimeNanoseconds }

    func setFatal(_ error: ClusterError) { fatal.withLock { if $0 == nil { $0 = error } } }
}
