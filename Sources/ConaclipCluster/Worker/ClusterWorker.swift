import Dispatch
import Foundation
import Logging
import Synchronization

/// What `conaclip worker` was asked to do.
public struct WorkerOptions {
    /// The coordinator's endpoint (`tcp://HOST:PORT`).
    public var endpoint: String
    /// The name the worker gives in logs.
    public var name: String
    public var security: WorkerSecurity
    /// The worker's own config (`--config`): optional; if given, it must
    /// train the same weights as the coordinator's, or the worker stops.
    public var config: TrainingConfig?
    /// Give up (exit with an error) after this many seconds without a coordinator.
    public var giveUpAfter: Double
    /// Seconds between registration attempts while no coordinator answers.
    public var registerInterval: Double
    /// Where the run's files are made (a learnt tokenizer); a private temporary directory.
    public var scratchDirectory: String
    /// Polled often: the signal number that asks to stop (0: keep going).
    public var stopSignal: () -> Int32
    /// Faults from the environment (the config's are added at the welcome).
    public var faults: FaultPlan
    public var logger: Logger
    public var say: (String) -> Void

    public init(endpoint: String, name: String, security: WorkerSecurity = .plaintext, config: TrainingConfig? = nil,
                giveUpAfter: Double = 300, registerInterval: Double = 1, scratchDirectory: String,
                stopSignal: @escaping () -> Int32 = { 0 }, faults: FaultPlan = .none, logger: Logger,
                say: @escaping (String) -> Void = { _ in }) {
        self.endpoint = endpoint; self.name = name; self.security = security; self.config = config
        self.giveUpAfter = giveUpAfter; self.registerInterval = registerInterval; self.scratchDirectory = scratchDirectory
        self.stopSignal = stopSignal; self.faults = faults; self.logger = logger; self.say = say
    }
}

/// How a worker ended without an error.
public enum WorkerOutcome: Sendable, Equatable {
    /// The coordinator told it to stop (training finished, or it was stopped).
    case shutdown(reason: String)
    /// Stopped by a signal (it said goodbye first).
    case stopped(signal: Int32)
}

/// A distributed training worker: a network thread (this one) owns the
/// DEALER socket, registers, heartbeats, re-registers when the coordinator
/// goes silent or restarts, and passes validated messages to a compute
/// thread (`WorkerCompute`), whose results it sends. Heartbeats therefore
/// keep flowing while a long task computes.
public final class ClusterWorker {
    public let options: WorkerOptions
    let logger: Logger
    private static let counter = Atomic<Int>(0)

    public init(options: WorkerOptions) {
        self.options = options
        logger = options.logger
    }

    public func run() throws(ClusterError) -> WorkerOutcome {
        let context: ZeroMQContext
        do { context = try ZeroMQContext(ioThreads: 1) } catch { throw .zeroMQ(error) }
        let number = Self.counter.wrappingAdd(1, ordering: .relaxed).newValue
        let shared = WorkerShared(faults: options.faults, wakeEndpoint: "inproc://conaclip-worker-wake-\(getpid())-\(number)")
        var random = SystemRandomNumberGenerator()
        let suffix = String(UInt32.random(in: 0...UInt32.max, using: &random), radix: 16)
        let routingID = Array("\(options.name.prefix(200))-\(getpid())-\(suffix)".utf8)
        let dealer: ZeroMQSocket, wake: ZeroMQSocket, monitor: ZeroMQMonitor
        do {
            var settings = ClusterSocketSettings()
            settings.heartbeatTimeout = .seconds(30)
            dealer = try ClusterSockets.worker(context: context, connect: options.endpoint, routingID: routingID,
                                               settings: settings, security: options.security)
            monitor = try dealer.monitor([.handshakeFailedAuth, .handshakeFailedProtocol, .handshakeFailedNoDetail,
                                          .handshakeSucceeded, .disconnected])
            wake = try ZeroMQSocket(context: context, type: .pair, linger: .zero)
            try wake.bind(shared.wakeEndpoint)
        } catch {
            throw ClusterError(wrapping: error)
        }
        let logger = self.logger, ownConfig = options.config, scratch = options.scratchDirectory, faults = options.faults
        let thread = Thread {
            WorkerCompute(shared: shared, logger: logger, ownConfig: ownConfig, scratchDirectory: scratch,
                          environmentFaults: faults).run(context: context)
        }
        thread.name = "conaclip-compute"
        thread.stackSize = 64 << 20
        thread.start()
        defer {
            shared.push(.stop)
            _ = shared.computeExited.wait(timeout: .now() + 5)
            wake.close()
            dealer.close()
        }
        var loop = NetworkLoop(options: options, shared: shared, dealer: dealer, wake: wake, monitor: monitor, logger: logger)
        return try loop.run()
    }
}

/// The network thread's state and loop.
private struct NetworkLoop {
    let options: WorkerOptions
    let shared: WorkerShared
    let dealer: ZeroMQSocket
    let wake: ZeroMQSocket
    let monitor: ZeroMQMonitor
    let logger: Logger

    var welcomed = false
    var runID: UInt64?
    var workerID: UInt32 = 0
    var heartbeatInterval: Duration
    var deadAfter: Duration = .seconds(10)
    var lastHeard = ContinuousClock.now
    var lastRegister: ContinuousClock.Instant?
    var unwelcomedSince = ContinuousClock.now
    var nextHeartbeat = ContinuousClock.now
    var announcedReady = false
    var sequence: UInt64 = 0
    var handshakeFailures = 0
    var handshakeSucceeded = false
    var sendFailureLogged = false
    var currentStep: UInt64 = 0
    let decoder = WireDecoder(runID: nil)

    init(options: WorkerOptions, shared: WorkerShared, dealer: ZeroMQSocket, wake: ZeroMQSocket, monitor: ZeroMQMonitor, logger: Logger) {
        self.options = options; self.shared = shared; self.dealer = dealer; self.wake = wake; self.monitor = monitor; self.logger = logger
        heartbeatInterval = .milliseconds(Int(options.registerInterval * 1000))
    }

    mutating func run() throws(ClusterError) -> WorkerOutcome {
        logger.info("connecting", metadata: ["endpoint": "\(options.endpoint)", "name": "\(options.name)"])
        while true {
            let signal = options.stopSignal()
            if signal != 0 {
                if welcomed { send(.goodbye(Goodbye(reason: "stopped by signal \(signal)")), type: .goodbye) }
                return .stopped(signal: signal)
            }
            if let fatal = shared.fatal.withLock({ $0 }) {
                // Let the compute thread's error report go out first.
                flushOutbox()
                throw fatal
            }
            if shared.isStalled {
                Thread.sleep(forTimeInterval: 0.05)
                continue
            }
            let now = ContinuousClock.now
            try watchHandshakes()
            if !welcomed {
                if lastRegister.map({ now - $0 >= .milliseconds(Int(options.registerInterval * 1000)) }) ?? true {
                    register()
                    lastRegister = now
                }
                if now - unwelcomedSince > .milliseconds(Int(options.giveUpAfter * 1000)) {
                    throw .coordinatorUnreachable("no coordinator answered at \(options.endpoint) for \(Int(options.giveUpAfter)) s "
                        + "(--give-up-after); is it running, and are the address and keys right?")
                }
            } else {
                if now - lastHeard > deadAfter {
                    logger.warning("coordinator silent; registering again", metadata: [
                        "silent-s": "\(String(format: "%.1f", Coordinator.seconds(now - lastHeard)))"])
                    forget()
                    continue
                }
                let ready = shared.ready.load(ordering: .relaxed)
                if now >= nextHeartbeat || ready != announcedReady {
                    // Results first: a heartbeat saying "not busy" must never overtake the result it implies.
                    let busy = shared.pending.load(ordering: .relaxed) > 0
                    flushOutbox()
                    sequence += 1
                    send(.heartbeat(Heartbeat(sequence: sequence, busy: busy, ready: ready,
                                              assignmentsReceived: shared.assignmentsReceived.load(ordering: .relaxed))),
                         type: .heartbeat, step: currentStep)
                    announcedReady = ready
                    nextHeartbeat = now + heartbeatInterval
                }
            }
            let readable: [Bool]
            do {
                readable = try ZeroMQPoller.waitForInput([dealer, wake], timeout: .milliseconds(50))
            } catch {
                throw .zeroMQ(error)
            }
            if readable[1] {
                while (try? wake.receive(timeout: .zero)) != nil {}
                flushOutbox()
            }
            if readable[0] {
                while let frames = try receive() {
                    if let outcome = try handle(frames) { return outcome }
                }
            }
        }
    }

    private mutating func receive() throws(ClusterError) -> [ZeroMQFrame]? {
        do { return try dealer.receive(timeout: .zero) } catch {
            if case .limitExceeded = error {
                logger.warning("refused message from the coordinator: \(error)")
                return []
            }
            throw .zeroMQ(error)
        }
    }

    /// Handles one message; an outcome ends the worker.
    private mutating func handle(_ frames: [ZeroMQFrame]) throws(ClusterError) -> WorkerOutcome? {
        guard !frames.isEmpty else { return nil }
        let decoded: DecodedMessage
        do { decoded = try decoder.decode(frames) } catch {
            logger.warning("refused message from the coordinator", metadata: ["reason": "\(error)"])
            return nil
        }
        let header = decoded.header
        switch decoded.message {
        case let .welcome(welcome):
            if welcomed && header.runID == runID && welcome.workerID == workerID { return nil }
            if welcomed || runID != nil { shared.push(.reset) }
            runID = header.runID
            workerID = welcome.workerID
            shared.workerID.store(workerID, ordering: .relaxed)
            shared.assignmentsReceived.store(0, ordering: .relaxed)
            heartbeatInterval = .milliseconds(Int(welcome.heartbeatIntervalMilliseconds))
            deadAfter = .milliseconds(Int(welcome.heartbeatTimeoutMilliseconds))
            welcomed = true
            lastHeard = .now
            announcedReady = false
            shared.ready.store(false, ordering: .relaxed)
            logger.info("registered", metadata: ["worker-id": "\(workerID)", "run": "\(String(header.runID, radix: 16))"])
            options.say("worker \(options.name): registered as worker \(workerID)")
            shared.push(.welcome(welcome, runID: header.runID, workerID: welcome.workerID))
            return nil
        case let .error(error):
            switch error.code {
            case .notRegistered:
                if welcomed || runID != header.runID {
                    logger.info("the coordinator does not know this worker (it restarted?); registering again")
                    forget()
                }
            case .configurationMismatch:
                throw .configurationMismatch(error.message)
            case .refused:
                throw .refused(error.message)
            default:
                logger.warning("the coordinator reported an error", metadata: ["code": "\(error.code)", "message": "\(error.message)"])
            }
            return nil
        case let .shutdown(shutdown):
            guard runID == nil || header.runID == runID || !welcomed else { return nil }
            logger.info("shutdown", metadata: ["reason": "\(shutdown.reason)"])
            if shutdown.reason.hasPrefix("quarantined") { throw .refused(shutdown.reason) }
            if welcomed { send(.goodbye(Goodbye(reason: "shutdown received")), type: .goodbye) }
            return .shutdown(reason: shutdown.reason)
        default:
            guard welcomed, header.runID == runID else { return nil }
            lastHeard = .now
            currentStep = header.step
            if case .heartbeat = decoded.message { return nil }
            if case .assign = decoded.message {
                shared.pending.wrappingAdd(1, ordering: .relaxed)
                shared.assignmentsReceived.wrappingAdd(1, ordering: .relaxed)
            }
            shared.push(.message(decoded, arrived: .now))
            return nil
        }
    }

    /// Forgets the coordinator (it went silent or restarted) and registers again.
    private mutating func forget() {
        welcomed = false
        unwelcomedSince = .now
        lastRegister = nil
        shared.ready.store(false, ordering: .relaxed)
        shared.push(.reset)
    }

    private mutating func register() {
        let registration = WorkerRegistration(
            name: options.name, hostname: ProcessInfo.processInfo.hostName, processID: UInt32(getpid()), threads: 1,
            configDigest: options.config.map(RunAnnouncement.canonicalDigest) ?? "")
        send(.register(registration), type: .register, runID: 0)
    }

    private mutating func watchHandshakes() throws(ClusterError) {
        while let event = try? monitor.next(timeout: .zero) {
            if event.kind.contains(.handshakeSucceeded) {
                handshakeSucceeded = true
                handshakeFailures = 0
            } else if !event.kind.intersection(.handshakeFailed).isEmpty {
                handshakeFailures += 1
                let reason = event.kind.contains(.handshakeFailedAuth)
                    ? "the coordinator refused this worker's CURVE key (is its public key on the coordinator's allow-list?)"
                    : "the security handshake with the coordinator failed (CURVE on one side only, or a wrong coordinator key?)"
                logger.error("handshake failed", metadata: ["reason": "\(reason)", "attempt": "\(handshakeFailures)"])
                // A refused key is final (libzmq does not retry it); other failures get a few attempts.
                if !welcomed && (event.kind.contains(.handshakeFailedAuth) || handshakeFailures >= 3) {
                    throw .refused(reason)
                }
            }
        }
    }

    private mutating func send(_ message: ClusterMessage, type: MessageType, step: UInt64 = 0, runID explicitRunID: UInt64? = nil) {
        let envelope = WireEnvelope(runID: explicitRunID ?? runID ?? 0, step: step)
        guard let encoded = try? WireCodec.encode(message, envelope: envelope) else { return }
        transmit(WorkerOutbound(message: encoded, type: type, step: Int(step)))
    }

    private mutating func flushOutbox() {
        for item in shared.drainOutbox() { transmit(item) }
    }

    private mutating func transmit(_ item: WorkerOutbound) {
        let faults = shared.faults.withLock { $0 }
        let fault = faults.outgoing(item.type, step: item.step.map { $0 + 1 }, worker: shared.workerID.load(ordering: .relaxed), side: .worker)
        guard let outgoing = FaultInjection.apply(fault, to: item.message, describing: "\(item.type)",
                                                  logger: logger) else { return }
        do {
            // Without a connection (ZMQ_IMMEDIATE) a send waits; registrations are retried anyway.
            try dealer.send(outgoing, timeout: item.type == .register ? .milliseconds(100) : .seconds(1))
            sendFailureLogged = false
        } catch {
            let level: Logger.Level = sendFailureLogged ? .debug : .warning
            logger.log(level: level, "send failed (no connection to the coordinator yet?)", metadata: ["type": "\(item.type)", "error": "\(error)"])
            sendFailureLogged = true
        }
    }
}
