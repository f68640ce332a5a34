import Crypto
import Foundation
import Logging

/// How the coordinator's socket is secured, before the context exists.
public enum CoordinatorSecuritySetting: Sendable {
    case plaintext
    /// CURVE with this key pair; only keys on `allowList` are admitted.
    case curve(keyPair: ZeroMQCurveKeyPair, allowList: CurveAllowList)
}

/// What `conaclip coordinator` was asked to do.
public struct CoordinatorOptions {
    /// Endpoint to bind (`tcp://HOST:PORT`; port 0 or `*` lets the OS choose).
    public var bind: String
    public var outputDirectory: String
    /// Continue from the newest valid checkpoint in `outputDirectory`.
    public var resume: Bool
    /// Overrides `cluster.min_workers`.
    public var minWorkers: Int?
    public var security: CoordinatorSecuritySetting
    /// Also write the bound endpoint here (atomically), for scripts.
    public var endpointFile: String?
    public var progressMode: ProgressDisplay.Mode
    /// Polled often: the signal number that asks to stop (0: keep going).
    public var stopSignal: () -> Int32
    public var faults: FaultPlan
    public var logger: Logger
    /// Receives the lines a person reads on standard output.
    public var say: (String) -> Void

    public init(bind: String, outputDirectory: String, resume: Bool = false, minWorkers: Int? = nil,
                security: CoordinatorSecuritySetting = .plaintext, endpointFile: String? = nil,
                progressMode: ProgressDisplay.Mode = .silent, stopSignal: @escaping () -> Int32 = { 0 },
                faults: FaultPlan = .none, logger: Logger, say: @escaping (String) -> Void = { _ in }) {
        self.bind = bind; self.outputDirectory = outputDirectory; self.resume = resume; self.minWorkers = minWorkers
        self.security = security; self.endpointFile = endpointFile; self.progressMode = progressMode
        self.stopSignal = stopSignal; self.faults = faults; self.logger = logger; self.say = say
    }
}

/// How a coordinator run ended.
public enum CoordinatorOutcome: Sendable, Equatable {
    /// Every step done; the final model is in `finalDirectory`.
    case completed(steps: Int, finalDirectory: String, weightsDigest: String)
    /// Stopped by `signal` after `steps` steps, with a checkpoint written.
    case stopped(steps: Int, checkpoint: String?, signal: Int32)
}

/// The coordinator of distributed training (DESIGN.md, METHOD.md "Exact
/// data-parallel training"): one ROUTER socket, one thread, one step at a
/// time.
///
/// A step has two phases. In the first, each micro-shard is assigned to an
/// idle worker, which embeds it (student and teacher) and returns the
/// embeddings; in the second, every worker computing gradients receives the
/// whole batch's embeddings (`gathered`), evaluates the full-batch loss and
/// returns the parameter gradient of each shard assigned to it. The
/// coordinator sums the shard gradients in shard order
/// (`OrderedGradientSum`), adds the logit-scale gradient, clips and steps
/// AdamW exactly as `DistillationStep` does, so the weights are bit-identical
/// to a single-process run whatever the number of workers and whoever
/// computed which shard. With shard-local negatives the phases collapse into one.
///
/// Membership: workers register (and are welcomed with the run's config),
/// heartbeat both ways, and may join or leave at any time; a worker silent
/// for `cluster.dead_after` seconds, whose connection is gone, or that said
/// goodbye loses its tasks to others. A task outstanding much longer than
/// usual is also given to an idle worker; the first valid result wins and
/// later ones are dropped by (step, shard, phase). Results are validated
/// (checksums, finiteness, shapes, versions); a refused result is recomputed
/// elsewhere and repeated refusals quarantine the worker. Fewer live workers
/// than `cluster.min_workers` pause the run with a log line.
public final class Coordinator {
    public let config: TrainingConfig
    public let options: CoordinatorOptions
    let logger: Logger
    let settings: TrainingConfig.Cluster
    let minWorkers: Int
    let runDirectory: RunDirectory
    let runID: UInt64

    // Transport.
    private var context: ZeroMQContext?
    private var socket: ZeroMQSocket?
    private var authenticator: ZAPAuthenticator?
    /// The endpoint bound (with the port the OS chose).
    public private(set) var endpoint: String?
    private var decoder: WireDecoder

    // The run.
    private var components: RunComponents?
    private var optimizer: AdamW?
    private var announcement: [UInt8] = []
    private var canonicalDigest: String
    private var shardSize = 0
    private var parameterCount = 0
    private var width = 0
    private var matrices: [MicroShardComputer.Matrix] = []
    private var gathered: [FloatBuffer] = []
    private var gradientSum: OrderedGradientSum?
    private var scratch = FloatBuffer(count: 0)
    private var stepsDone = 0
    private var lastCheckpointStep: Int?

    // Membership.
    private var workers: [UInt32: WorkerEntry] = [:]
    private var byRoutingID: [[UInt8]: UInt32] = [:]
    private var nextWorkerID: UInt32 = 1
    private var banned: Set<[UInt8]> = []
    private var refusalLog: [[UInt8]: (logged: ContinuousClock.Instant, suppressed: Int)] = [:]
    private var heartbeatSequence: UInt64 = 0
    private var nextHeartbeat = ContinuousClock.now
    private var paused = false
    /// Workers whose result for a task was refused (to tell a broken worker from a broken run).
    private var taskFailures: [TaskKey: [UInt32]] = [:]
    /// Set when the run cannot continue.
    private var fatal: ClusterError?
    private var everHadWorkers = false
    private var pauseLogged = ContinuousClock.now

    // The current step.
    private var stepActive = false
    private var phase: ShardPhase = .embeddings
    private var tasks: [TaskState] = []
    private var results: [StepLosses?] = []
    private var stepStart = ContinuousClock.now
    private var timing = ClusterStepTiming()
    private var usedWorkers: Set<UInt32> = []
    private var durations = TaskDurations()
    private var weightsMessage: (version: Int, message: ZeroMQOutgoingMessage)?
    private var gatheredMessage: (step: Int, message: ZeroMQOutgoingMessage)?
    private var teacherMessage: ZeroMQOutgoingMessage?
    private var weightsPayload: ZeroMQSharedBytes?
    private var gatheredPayload: ZeroMQSharedBytes?

    // Output.
    private var metrics: MetricsLog?
    private var progress: ProgressDisplay?

    public init(config: TrainingConfig, options: CoordinatorOptions) throws(ClusterError) {
        self.config = config
        self.options = options
        logger = options.logger
        settings = config.cluster
        minWorkers = options.minWorkers ?? config.cluster.minWorkers
        guard minWorkers >= 1 else { throw .setup("--min-workers must be at least 1, got \(minWorkers)") }
        runDirectory = RunDirectory(path: options.outputDirectory)
        var generator = SystemRandomNumberGenerator()
        runID = UInt64.random(in: 1...UInt64.max, using: &generator)
        decoder = WireDecoder(runID: runID)
        canonicalDigest = RunAnnouncement.canonicalDigest(config)
    }

    // MARK: - Run

    /// Binds, builds the run, trains to the end (or until asked to stop) and
    /// tells the workers to shut down.
    public func run() throws(ClusterError) -> CoordinatorOutcome {
        try bindSocket()
        defer { closeTransport() }
        try prepare()
        var outcome: CoordinatorOutcome?
        do throws(ClusterError) {
            outcome = try loop()
        } catch {
            broadcastShutdown(reason: "the coordinator stopped with an error: \(error)")
            throw error
        }
        return outcome ?? .stopped(steps: stepsDone, checkpoint: nil, signal: 0)
    }

    private func bindSocket() throws(ClusterError) {
        do {
            let context = try ZeroMQContext(ioThreads: 1)
            self.context = context
            let security: CoordinatorSecurity
            switch options.security {
            case .plaintext:
                security = .plaintext
            case let .curve(keyPair, allowList):
                let zap: ZAPAuthenticator
                do {
                    zap = try ZAPAuthenticator(context: context, allowList: allowList, domain: ClusterSockets.zapDomain, logger: logger)
                } catch { throw ClusterError.security(error) }
                authenticator = zap
                security = .curve(serverKeyPair: keyPair, authenticator: zap)
            }
            var socketSettings = ClusterSocketSettings()
            socketSettings.heartbeatInterval = .milliseconds(Int(settings.heartbeatInterval * 1000))
            socketSettings.heartbeatTimeout = .milliseconds(Int(settings.deadAfter * 1000))
            let (socket, bound) = try ClusterSockets.coordinator(
                context: context, bind: ClusterEndpoint.normalizingAnyPort(options.bind), settings: socketSettings, security: security)
            self.socket = socket
            endpoint = bound
            options.say("coordinator: listening on \(bound)")
            if let file = options.endpointFile { try Self.writeAtomically(bound + "\n", to: file) }
            logger.info("listening", metadata: ["endpoint": "\(bound)", "security": "\(authenticator == nil ? "plaintext" : "CURVE")",
                                                "min-workers": "\(minWorkers)"])
        } catch {
            throw ClusterError(wrapping: error)
        }
    }

    private static func writeAtomically(_ text: String, to path: String) throws(ClusterError) {
        let temporary = path + ".tmp-\(getpid())"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            if rename(temporary, path) != 0 { throw ClusterError.setup("cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))") }
        } catch let error as ClusterError {
            throw error
        } catch {
            throw .setup("cannot write the endpoint file \(path): \(error.localizedDescription)")
        }
    }

    /// Builds the run's components (teacher pre-training included), restores
    /// a checkpoint when resuming, and opens the metrics log.
    private func prepare() throws(ClusterError) {
        do {
            let run = try RunComponents.prepareRunDirectory(config: config, path: options.outputDirectory)
            let components = try RunComponents(config: config, workDirectory: run.path, teacherMode: .build, say: options.say)
            self.components = components
            // Validates the loss set-up exactly as the single-process step does.
            _ = try MicroShardComputer(student: components.student, teacher: components.teacher, terms: config.loss.terms,
                                       taskWeight: config.loss.taskWeight)
            let optimizer = AdamW(store: components.student.parameters, config: components.optimizer)
            self.optimizer = optimizer
            parameterCount = components.student.parameters.count
            width = components.studentConfig.projectionDim
            shardSize = config.microShardSize
            matrices = config.loss.terms.isEmpty ? [.studentImage, .studentText] : MicroShardComputer.Matrix.allCases
            gathered = matrices.map { _ in FloatBuffer(count: config.batchSize * width) }
            gradientSum = OrderedGradientSum(count: parameterCount, shards: config.microShards)
            scratch = FloatBuffer(count: max(parameterCount, shardSize * width * matrices.count))
            let yaml = (try? String(contentsOfFile: config.source, encoding: .utf8)) ?? ""
            guard !yaml.isEmpty else { throw ClusterError.setup("cannot read the config file \(config.source) to hand it to workers") }
            announcement = RunAnnouncement(configYAML: yaml, configSource: config.source, canonicalDigest: canonicalDigest,
                                           runDigest: components.configDigest, parameterCount: parameterCount,
                                           totalSteps: components.totalSteps).encoded()
            if options.resume {
                let restored = try TrainingCheckpoint.restoreNewest(run: run, configDigest: components.configDigest,
                                                                     store: components.student.parameters, optimizer: optimizer)
                for reason in restored.skipped { options.say("warning: skipped checkpoint \(reason)") }
                if let state = restored.state, let path = restored.path {
                    stepsDone = state.step
                    lastCheckpointStep = state.step
                    options.say("resuming from \(path) (step \(state.step) of \(components.totalSteps))")
                }
            }
            metrics = try MetricsLog(path: runDirectory.metricsPath, keepingThrough: stepsDone)
            progress = ProgressDisplay(mode: options.progressMode, totalSteps: components.totalSteps, batchSize: config.batchSize,
                                       every: config.log.everySteps)
            if case let .initialized(_, _, pretrain)? = config.teacher, pretrain > 0, let teacher = components.teacherModel {
                let digest = Array(SHA256.hash(data: UnsafeRawBufferPointer(
                    start: teacher.parameters.values.pointer, count: teacher.parameters.count * 4)))
                teacherMessage = try WireCodec.encode(
                    .weights(WeightsUpdate(weightsVersion: 0, parameterDigest: digest, model: .teacher)),
                    envelope: WireEnvelope(runID: runID), floats: UnsafeBufferPointer(teacher.parameters.values.buffer))
            }
        } catch {
            throw ClusterError(wrapping: error)
        }
    }

    private func loop() throws(ClusterError) -> CoordinatorOutcome {
        guard let components, let socket else { throw .setup("the coordinator is not set up") }
        let total = components.totalSteps
        options.say("coordinator: training \(total) steps from step \(stepsDone); waiting for \(minWorkers) worker(s)")
        while stepsDone < total {
            let signal = options.stopSignal()
            if signal != 0 { return try stop(signal: signal) }
            if let fatal { throw fatal }
            // What arrived while this thread was busy (a checkpoint, the optimizer) counts before anyone is declared dead.
            try drain(socket, first: .zero, total: total)
            let now = ContinuousClock.now
            try housekeeping(now)
            if !stepActive { beginStep(now) }
            if !paused { try schedule(now) }
            // Wait for traffic at most until the next timed duty.
            try drain(socket, first: max(Duration.milliseconds(1), min(.milliseconds(100), nextHeartbeat - ContinuousClock.now)), total: total)
        }
        return try finish()
    }

    /// Handles messages until none is waiting (the first wait up to `first`),
    /// or a step ended (so the next one starts before more results are read).
    private func drain(_ socket: ZeroMQSocket, first: Duration, total: Int) throws(ClusterError) {
        var wait = first
        while stepsDone < total {
            let frames: [ZeroMQFrame]?
            do { frames = try socket.receive(timeout: wait) } catch {
                handleReceiveError(error)
                return
            }
            guard let received = frames else { return }
            let before = stepsDone
            try handle(received)
            if stepsDone != before { return }
            wait = .zero
        }
    }

    private func handleReceiveError(_ error: ZeroMQError) {
        if case .limitExceeded = error {
            logger.warning("refused message: \(error)")
        } else {
            logger.error("receive failed: \(error)")
        }
    }

    // MARK: - Membership

    private var liveReady: Int { workers.values.filter(\.ready).count }

    private func housekeeping(_ now: ContinuousClock.Instant) throws(ClusterError) {
        let deadAfter = Duration.milliseconds(Int(settings.deadAfter * 1000))
        for worker in workers.values.sorted(by: { $0.id < $1.id }) where now - worker.lastHeard > deadAfter {
            let silent = Self.seconds(now - worker.lastHeard)
            remove(worker, kind: .dead, reason: String(format: "silent for %.1f s (cluster.dead_after %.1f s)", silent, settings.deadAfter))
        }
        if now >= nextHeartbeat {
            heartbeatSequence += 1
            if let message = try? WireCodec.encode(.heartbeat(Heartbeat(sequence: heartbeatSequence, busy: true)),
                                                   envelope: WireEnvelope(runID: runID, step: UInt64(stepsDone))) {
                for worker in workers.values.sorted(by: { $0.id < $1.id }) {
                    send(message, to: worker, type: .heartbeat, step: stepsDone)
                }
            }
            nextHeartbeat = now + .milliseconds(Int(settings.heartbeatInterval * 1000))
        }
        let live = liveReady
        if live < minWorkers {
            if !paused || now - pauseLogged > .seconds(30) {
                // Waiting for the first workers is normal; losing them later is worth a warning.
                let level: Logger.Level = everHadWorkers ? .warning : .info
                logger.log(level: level, "\(everHadWorkers ? "paused" : "waiting"): too few live workers", metadata: [
                    "live-workers": "\(live)", "min-workers": "\(minWorkers)", "step": "\(stepsDone)"])
                options.say("coordinator: \(everHadWorkers ? "paused" : "waiting") at step \(stepsDone): \(live) live worker(s), "
                    + "need \(minWorkers) (cluster.min_workers / --min-workers)")
                paused = true
                pauseLogged = now
            }
        } else if paused {
            paused = false
            everHadWorkers = true
            logger.info("running", metadata: ["live-workers": "\(live)"])
            options.say("coordinator: running with \(live) live worker(s)")
        }
    }

    private func event(_ kind: MembershipEvent.Kind, _ worker: WorkerEntry, _ reason: String) {
        let record = MembershipEvent(kind: kind, worker: worker.name, workerID: worker.id, reason: reason, step: stepsDone,
                                     liveWorkers: workers.values.filter(\.ready).count)
        let level: Logger.Level = kind == .joined ? .info : .warning
        logger.log(level: level, "worker \(kind.rawValue)", metadata: [
            "worker": "\(worker.name)", "id": "\(worker.id)", "reason": "\(reason)", "step": "\(stepsDone)",
            "live-workers": "\(record.liveWorkers)"])
        try? metrics?.append(line: record.jsonLine)
    }

    /// Takes a worker out (dead, left, quarantined): its task goes back to the queue.
    private func remove(_ worker: WorkerEntry, kind: MembershipEvent.Kind, reason: String) {
        workers[worker.id] = nil
        byRoutingID[worker.routingID] = nil
        event(kind, worker, reason)
        release(worker, because: "\(worker.name) \(kind.rawValue)")
    }

    /// Frees every task `worker` holds so that other workers can take them.
    private func release(_ worker: WorkerEntry, because reason: String) {
        for key in worker.inFlight.map(\.key) { release(key, of: worker, because: reason) }
    }

    /// Frees the task `key` that `worker` holds (if it does) so that another
    /// worker can take it; with `avoid`, not `worker` again this phase.
    private func release(_ key: TaskKey, of worker: WorkerEntry, because reason: String, avoid: Bool = false) {
        guard let index = worker.inFlightIndex(of: key) else { return }
        worker.inFlight.remove(at: index)
        guard stepActive, key.step == stepsDone, key.phase == phase, key.shard < tasks.count else { return }
        tasks[key.shard].holders[worker.id] = nil
        if avoid { tasks[key.shard].avoid.insert(worker.id) }
        if !tasks[key.shard].done && tasks[key.shard].holders.isEmpty {
            event(.reassigned, worker, "\(key) goes back to the queue: \(reason)")
        }
    }

    /// The task a message from `worker` answers, if it holds it: the one its
    /// header names, or for a message that names no micro-shard (an error
    /// report) its oldest task of that step, since a worker computes its
    /// tasks in the order they were sent and answers each before the next.
    private func heldTask(_ header: WireHeader?, of worker: WorkerEntry) -> TaskKey? {
        guard let header else { return nil }
        return worker.inFlight.first { entry in
            header.step == UInt64(entry.key.step) && (header.microShard.map { Int($0) == entry.key.shard } ?? true)
        }?.key
    }

    private func quarantineIfNeeded(_ worker: WorkerEntry) {
        guard worker.badResults >= settings.maxBadResults else { return }
        let reason = "\(worker.badResults) refused results (cluster.max_bad_results \(settings.maxBadResults))"
        if let message = try? WireCodec.encode(.shutdown(Shutdown(reason: "quarantined: \(reason)")),
                                               envelope: WireEnvelope(runID: runID, step: UInt64(stepsDone))) {
            send(message, to: worker, type: .shutdown, step: stepsDone)
        }
        banned.insert(worker.routingID)
        remove(worker, kind: .quarantined, reason: reason)
    }

    // MARK: - Sending

    /// Sends `message` to `worker`; false (and the worker removed) if its connection is gone.
    @discardableResult
    private func send(_ message: ZeroMQOutgoingMessage, to worker: WorkerEntry, type: MessageType, step: Int?) -> Bool {
        guard let socket else { return false }
        let fault = options.faults.outgoing(type, step: step.map { $0 + 1 }, worker: worker.id, side: .coordinator)
        guard let outgoing = FaultInjection.apply(fault, to: message, describing: "\(type) to \(worker.name)",
                                                  logger: logger) else { return true }
        do {
            try socket.send(outgoing.addressed(to: worker.routingID), timeout: .seconds(5))
            timing.bytesSent += outgoing.byteCount
            return true
        } catch {
            if error.isHostUnreachable {
                if workers[worker.id] != nil { remove(worker, kind: .left, reason: "connection lost") }
            } else {
                logger.error("send failed", metadata: ["worker": "\(worker.name)", "type": "\(type)", "error": "\(error)"])
                if workers[worker.id] != nil { remove(worker, kind: .left, reason: "send failed: \(error)") }
            }
            return false
        }
    }

    private func sendToPeer(_ routingID: [UInt8], _ message: ClusterMessage, step: Int = 0) {
        guard let socket, let encoded = try? WireCodec.encode(message, envelope: WireEnvelope(runID: runID, step: UInt64(step))) else { return }
        try? socket.send(encoded.addressed(to: routingID), timeout: .milliseconds(100))
    }

    /// Tells every worker to stop, then waits (a few seconds at most) for
    /// their goodbyes, so that no worker misses the end of the run because
    /// this process exited before its message left.
    private func broadcastShutdown(reason: String) {
        guard let message = try? WireCodec.encode(.shutdown(Shutdown(reason: reason)),
                                                  envelope: WireEnvelope(runID: runID, step: UInt64(stepsDone))) else { return }
        for worker in workers.values.sorted(by: { $0.id < $1.id }) { send(message, to: worker, type: .shutdown, step: stepsDone) }
        guard let socket else { return }
        let deadline = ContinuousClock.now + .milliseconds(Int(min(5, 2 * settings.heartbeatInterval + 1) * 1000))
        while !workers.isEmpty && ContinuousClock.now < deadline {
            guard let frames = try? socket.receive(timeout: deadline - ContinuousClock.now), let routing = frames.first,
                  let id = byRoutingID[routing.bytes], let worker = workers[id],
                  let decoded = try? decoder.decode(frames.dropFirst()) else { continue }
            if case .goodbye = decoded.message {
                workers[id] = nil
                byRoutingID[worker.routingID] = nil
            }
        }
        if !workers.isEmpty {
            logger.info("no goodbye from some workers", metadata: ["workers": "\(workers.values.map(\.name).sorted().joined(separator: ","))"])
        }
    }

    private func closeTransport() {
        socket?.close()
        socket = nil
        authenticator?.stop()
        authenticator = nil
    }

    // MARK: - Receiving

    private func handle(_ frames: [ZeroMQFrame]) throws(ClusterError) {
        guard let routing = frames.first else { return }
        let routingID = routing.bytes
        for frame in frames { timing.bytesReceived += frame.count }
        let decoded: DecodedMessage
        do {
            decoded = try decoder.decode(frames.dropFirst())
        } catch {
            refused(frames, from: routingID, error)
            return
        }
        if case let .register(registration) = decoded.message {
            handleRegister(routingID, registration)
            return
        }
        guard let id = byRoutingID[routingID], let worker = workers[id] else {
            if banned.contains(routingID) { return }
            if rateLimitedLog(routingID) {
                logger.info("message from an unregistered peer; asking it to register", metadata: ["type": "\(decoded.header.type)"])
            }
            if decoded.header.type != .goodbye {
                sendToPeer(routingID, .error(PeerError(code: .notRegistered, message: "register first (this coordinator does not know you)")))
            }
            return
        }
        worker.lastHeard = .now
        switch decoded.message {
        case let .heartbeat(heartbeat):
            if heartbeat.ready && !worker.ready {
                worker.ready = true
                logger.info("worker ready", metadata: ["worker": "\(worker.name)", "id": "\(worker.id)"])
            }
            checkForLostMessages(worker, heartbeat)
        case let .embeddings(body):
            try acceptEmbeddings(body, decoded, from: worker)
        case let .gradient(body):
            try acceptGradient(body, decoded, from: worker)
        case let .goodbye(body):
            remove(worker, kind: .left, reason: "goodbye: \(body.reason)")
        case let .error(body):
            handlePeerError(body, decoded.header, from: worker)
        default:
            refuseResult(from: worker, header: decoded.header, reason: "a worker does not send \(decoded.header.type) messages")
        }
    }

    /// Logs a refused message (rate-limited per peer) and, when it came
    /// from a registered worker and names its task, counts it against the
    /// worker and puts the task back for another worker.
    private func refused(_ frames: [ZeroMQFrame], from routingID: [UInt8], _ error: ProtocolError) {
        let header = frames.count > 1 ? frames[1].withUnsafeBytes { try? WireHeader.decode($0) } : nil
        let worker = byRoutingID[routingID].flatMap { workers[$0] }
        if let worker {
            refuseResult(from: worker, header: header, reason: error.description)
        } else if case .wrongRunID = error, !banned.contains(routingID) {
            // A worker of an earlier coordinator of this run (before a restart): have it register.
            if rateLimitedLog(routingID) { logger.info("a worker of an earlier coordinator is connected; asking it to register") }
            sendToPeer(routingID, .error(PeerError(code: .notRegistered, message: "this coordinator restarted; register again")))
        } else if rateLimitedLog(routingID) {
            logger.warning("refused message", metadata: ["peer": "unregistered", "reason": "\(error)"])
        }
    }

    private func refuseResult(from worker: WorkerEntry, header: WireHeader?, reason: String) {
        worker.badResults += 1
        var metadata: Logger.Metadata = ["worker": "\(worker.name)", "reason": "\(reason)", "bad-results": "\(worker.badResults)"]
        if let header { metadata["type"] = "\(header.type)"; metadata["step"] = "\(header.step + 1)" }
        if let shard = header?.microShard { metadata["shard"] = "\(shard)" }
        logger.warning("refused message", metadata: metadata)
        if let key = heldTask(header, of: worker) {
            release(key, of: worker, because: "its result was refused (\(reason)); recomputing elsewhere", avoid: true)
            // One broken worker is handled above; a task that fails everywhere means the run itself is broken.
            taskFailures[key, default: []].append(worker.id)
            let failures = taskFailures[key, default: []]
            if Set(failures).count >= 2 || failures.count >= 3 {
                let names = failures.compactMap { workers[$0]?.name ?? "worker \($0)" }
                fatal = .taskFailedEverywhere("\(key) failed \(failures.count) times (\(names.joined(separator: ", "))), last: \(reason); "
                    + "the run cannot go on (a diverged loss, or data every worker fails on)")
            }
        }
        quarantineIfNeeded(worker)
    }

    /// Whether to log another refusal from `routingID`: at most 5 per peer
    /// every 10 s, so a hostile or broken peer cannot flood the log.
    private func rateLimitedLog(_ routingID: [UInt8]) -> Bool {
        let now = ContinuousClock.now
        if let entry = refusalLog[routingID], now - entry.logged < .seconds(10) {
            refusalLog[routingID] = (entry.logged, entry.suppressed + 1)
            return entry.suppressed + 1 < 5
        }
        if refusalLog.count > 1024 { refusalLog.removeAll() }
        refusalLog[routingID] = (now, 0)
        return true
    }

    private func handleRegister(_ routingID: [UInt8], _ registration: WorkerRegistration) {
        let now = ContinuousClock.now
        if banned.contains(routingID) {
            sendToPeer(routingID, .error(PeerError(code: .refused, message: "this worker was quarantined")))
            sendToPeer(routingID, .shutdown(Shutdown(reason: "quarantined")))
            return
        }
        if !registration.configDigest.isEmpty && registration.configDigest != canonicalDigest {
            let reason = "its config (canonical digest \(registration.configDigest.prefix(12))…) differs from the run's "
                + "(\(canonicalDigest.prefix(12))…, \(config.source)); start it without --config, or with the same config"
            logger.warning("refused worker", metadata: ["worker": "\(registration.name)", "reason": "\(reason)"])
            try? metrics?.append(line: MembershipEvent(kind: .refused, worker: registration.name, workerID: 0, reason: reason,
                                                       step: stepsDone, liveWorkers: liveReady).jsonLine)
            sendToPeer(routingID, .error(PeerError(code: .configurationMismatch, message: reason)))
            return
        }
        let worker: WorkerEntry
        if let id = byRoutingID[routingID], let existing = workers[id] {
            existing.lastHeard = now
            if !existing.ready && existing.processID == registration.processID {
                sendWelcome(existing)  // a repeated register while it sets up
                return
            }
            release(existing, because: "\(existing.name) registered again")
            existing.forgetInputs()
            existing.ready = false
            existing.name = registration.name
            existing.processID = registration.processID
            worker = existing
            event(.joined, worker, "registered again (\(registration.hostname), pid \(registration.processID))")
        } else {
            worker = WorkerEntry(id: nextWorkerID, routingID: routingID, registration: registration, now: now)
            nextWorkerID += 1
            workers[worker.id] = worker
            byRoutingID[routingID] = worker.id
            event(.joined, worker, "registered from \(registration.hostname), pid \(registration.processID), \(registration.threads) thread(s)")
        }
        sendWelcome(worker)
    }

    private func sendWelcome(_ worker: WorkerEntry) {
        let welcome = Welcome(workerID: worker.id, heartbeatIntervalMilliseconds: UInt32(settings.heartbeatInterval * 1000),
                              heartbeatTimeoutMilliseconds: UInt32(settings.deadAfter * 1000), configuration: announcement)
        guard let message = try? WireCodec.encode(.welcome(welcome), envelope: WireEnvelope(runID: runID, step: UInt64(stepsDone))) else {
            logger.error("cannot encode the welcome (the config is too large for a message?)")
            return
        }
        guard send(message, to: worker, type: .welcome, step: stepsDone) else { return }
        if let teacher = teacherMessage, !worker.teacherSent {
            if send(teacher, to: worker, type: .weights, step: stepsDone) { worker.teacherSent = true }
        }
    }

    /// A worker that received every assignment and finished them all, yet
    /// still holds a task here, lost its result in transit; one whose
    /// heartbeats keep counting fewer assignments than were sent for longer
    /// than `cluster.dead_after` lost an assignment. Either way the task
    /// goes back to the queue, so a lost message never stalls the run.
    private func checkForLostMessages(_ worker: WorkerEntry, _ heartbeat: Heartbeat) {
        if heartbeat.assignmentsReceived >= worker.assignmentsSent {
            worker.assignmentGapSince = nil
            if !heartbeat.busy, let oldest = worker.inFlight.first {
                logger.warning("result lost in transit; recomputing", metadata: ["worker": "\(worker.name)", "task": "\(oldest.key)"])
                release(worker, because: "its result never arrived")
            }
            return
        }
        let now = ContinuousClock.now
        let since = worker.assignmentGapSince ?? now
        worker.assignmentGapSince = since
        if now - since > .milliseconds(Int(settings.deadAfter * 1000)) {
            logger.warning("assignment lost in transit; reassigning", metadata: [
                "worker": "\(worker.name)", "sent": "\(worker.assignmentsSent)", "received": "\(heartbeat.assignmentsReceived)"])
            worker.assignmentsSent = heartbeat.assignmentsReceived
            worker.assignmentGapSince = nil
            release(worker, because: "its assignment never arrived")
        }
    }

    private func handlePeerError(_ error: PeerError, _ header: WireHeader, from worker: WorkerEntry) {
        switch error.code {
        case .missingInput:
            logger.info("worker lacks inputs; sending them again", metadata: ["worker": "\(worker.name)", "detail": "\(error.message)"])
            worker.forgetInputs()
            // Tasks queued behind this one report the same on their own.
            if let key = heldTask(header, of: worker) { release(key, of: worker, because: "\(worker.name) lacked its inputs") }
        case .configurationMismatch, .refused:
            remove(worker, kind: .left, reason: "it refused the run: \(error.message)")
        case .computationFailed, .refusedMessage, .other, .notRegistered:
            refuseResult(from: worker, header: header, reason: "the worker reported: \(error.message)")
        }
    }

    // MARK: - Steps

    private func beginStep(_ now: ContinuousClock.Instant) {
        stepActive = true
        phase = config.loss.shardLocalNegatives ? .shardLocal : .embeddings
        tasks = Array(repeating: TaskState(), count: config.microShards)
        results = Array(repeating: nil, count: config.microShards)
        gradientSum?.reset()
        stepStart = now
        timing = ClusterStepTiming()
        usedWorkers = []
    }

    /// Gives pending tasks to ready workers (idle ones first, then up to
    /// `cluster.tasks_in_flight` each, so a worker computes its next task
    /// while the last result travels), then re-issues stragglers to idle ones.
    private func schedule(_ now: ContinuousClock.Instant) throws(ClusterError) {
        guard stepActive else { return }
        func pending(_ shard: Int) -> Bool { !tasks[shard].done && tasks[shard].holders.isEmpty }
        let ready = workers.values.filter(\.ready)
        for depth in 0..<settings.tasksInFlight {
            var free = workers.values.filter { $0.ready && $0.inFlight.count == depth }.sorted { $0.id < $1.id }
            // Affinity: a worker still holding the activations of a pending shard computes that shard's gradient.
            if phase == .gradient {
                for worker in free {
                    if let held = worker.lastEmbedded, held.step == stepsDone, pending(held.shard), !tasks[held.shard].avoid.contains(worker.id) {
                        assign(TaskKey(step: stepsDone, phase: .gradient, shard: held.shard), to: worker)
                    }
                }
                free.removeAll { $0.inFlight.count != depth || workers[$0.id] == nil }
            }
            for shard in tasks.indices where pending(shard) {
                guard !free.isEmpty else { break }
                // A worker whose result for this task was refused gets it again only if every ready worker was refused.
                let avoid = tasks[shard].avoid
                guard let index = free.firstIndex(where: { !avoid.contains($0.id) })
                        ?? (ready.allSatisfy { avoid.contains($0.id) } ? 0 : nil) else { continue }
                let worker = free.remove(at: index)
                assign(TaskKey(step: stepsDone, phase: phase, shard: shard), to: worker)
            }
        }
        // Then stragglers: a task held far longer than usual also goes to an idle worker.
        var free = workers.values.filter { $0.ready && $0.isIdle }.sorted { $0.id < $1.id }
        guard !free.isEmpty else { return }
        let threshold = max(settings.stragglerMinSeconds, settings.stragglerFactor * (durations.typical(phase) ?? 0))
        for shard in tasks.indices where !tasks[shard].done && tasks[shard].holders.count == 1 {
            guard let (holderID, since) = tasks[shard].holders.first else { continue }
            let held = Self.seconds(now - since)
            guard held > threshold, let index = free.firstIndex(where: { $0.id != holderID && !tasks[shard].avoid.contains($0.id) }) else {
                continue
            }
            let worker = free.remove(at: index)
            let key = TaskKey(step: stepsDone, phase: phase, shard: shard)
            let reason = String(format: "%@ held it for %.1f s (threshold %.1f s); the first result wins",
                                workers[holderID]?.name ?? "?", held, threshold)
            logger.warning("straggler: re-issuing \(key) to \(worker.name)", metadata: ["reason": "\(reason)"])
            if let holder = workers[holderID] { event(.reassigned, holder, "\(key) re-issued to \(worker.name): \(reason)") }
            assign(key, to: worker)
            if free.isEmpty { return }
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private func assign(_ key: TaskKey, to worker: WorkerEntry) {
        guard let components else { return }
        let sent = ContinuousClock.now
        // Inputs: the teacher (once), the current weights, and for gradients the gathered embeddings.
        if let teacher = teacherMessage, !worker.teacherSent {
            guard send(teacher, to: worker, type: .weights, step: key.step) else { return }
            worker.teacherSent = true
        }
        if worker.weightsVersion != stepsDone {
            guard let message = studentWeightsMessage() else { return }
            guard send(message, to: worker, type: .weights, step: key.step) else { return }
            worker.weightsVersion = stepsDone
        }
        if key.phase == .gradient && worker.gatheredStep != stepsDone {
            guard let message = gatheredEmbeddingsMessage() else { return }
            guard send(message, to: worker, type: .gathered, step: key.step) else { return }
            worker.gatheredStep = stepsDone
        }
        let assignment = ShardAssignment(
            phase: key.phase, weightsVersion: UInt64(stepsDone), epoch: UInt64(components.sampler.epoch(ofStep: key.step)),
            microShardCount: UInt32(config.microShards), firstSample: UInt32(key.shard * shardSize), sampleCount: UInt32(shardSize))
        guard let message = try? WireCodec.encode(.assign(assignment), envelope: WireEnvelope(
            runID: runID, step: UInt64(key.step), microShard: UInt32(key.shard))) else { return }
        guard send(message, to: worker, type: .assign, step: key.step) else { return }
        worker.assignmentsSent += 1
        worker.inFlight.append((key, sent))
        tasks[key.shard].holders[worker.id] = sent
    }

    private func studentWeightsMessage() -> ZeroMQOutgoingMessage? {
        if let cached = weightsMessage, cached.version == stepsDone { return cached.message }
        weightsMessage = nil  // lets the payload buffer be reused once libzmq released it
        guard let store = components?.student.parameters else { return nil }
        do {
            let message = try WireCodec.encode(.weights(WeightsUpdate(weightsVersion: UInt64(stepsDone), model: .student)),
                                               envelope: WireEnvelope(runID: runID, step: UInt64(stepsDone)),
                                               floats: UnsafeBufferPointer(store.values.buffer), reusing: &weightsPayload)
            weightsMessage = (stepsDone, message)
            return message
        } catch {
            logger.error("cannot encode the weights: \(error)")
            return nil
        }
    }

    private func gatheredEmbeddingsMessage() -> ZeroMQOutgoingMessage? {
        if let cached = gatheredMessage, cached.step == stepsDone { return cached.message }
        gatheredMessage = nil
        let n = config.batchSize
        var blocks: [EmbeddingBlock] = []
        let total = n * width * matrices.count
        if scratch.count < total { scratch = FloatBuffer(count: total) }
        for (index, matrix) in matrices.enumerated() {
            blocks.append(EmbeddingBlock(kind: Self.kind(matrix), rows: UInt32(n), columns: UInt32(width)))
            (scratch.pointer + index * n * width).update(from: gathered[index].pointer, count: n * width)
        }
        do {
            let message = try WireCodec.encode(.gathered(GatheredEmbeddings(weightsVersion: UInt64(stepsDone), blocks: blocks)),
                                               envelope: WireEnvelope(runID: runID, step: UInt64(stepsDone)),
                                               floats: UnsafeBufferPointer(start: scratch.pointer, count: total), reusing: &gatheredPayload)
            gatheredMessage = (stepsDone, message)
            return message
        } catch {
            logger.error("cannot encode the gathered embeddings: \(error)")
            return nil
        }
    }

    static func kind(_ matrix: MicroShardComputer.Matrix) -> EmbeddingKind {
        switch matrix {
        case .studentImage: return .studentImage
        case .studentText: return .studentText
        case .teacherImage: return .teacherImage
        case .teacherText: return .teacherText
        }
    }

    /// Common checks of a result: the current step and phase, the sender's
    /// weights, not a duplicate. Returns the shard and when its task was sent
    /// to `worker` (nil if it no longer held it), or nil when the result is
    /// dropped (after freeing the sender).
    private func admit(_ header: WireHeader, phase resultPhase: ShardPhase, weightsVersion: UInt64,
                       from worker: WorkerEntry) -> (shard: Int, sent: ContinuousClock.Instant?)? {
        guard let rawShard = header.microShard else { return nil }
        let shard = Int(rawShard)
        let key = TaskKey(step: Int(header.step), phase: resultPhase, shard: shard)
        var sent: ContinuousClock.Instant?
        if let index = worker.inFlightIndex(of: key) {
            sent = worker.inFlight.remove(at: index).sent
            // The next queued task has been computing since about now (the
            // straggler clock of a queued task starts when it can run).
            if let next = worker.inFlight.first, next.key.step == stepsDone, next.key.phase == phase, next.key.shard < tasks.count,
               tasks[next.key.shard].holders[worker.id] != nil {
                tasks[next.key.shard].holders[worker.id] = ContinuousClock.now
            }
        }
        guard stepActive, Int(header.step) == stepsDone, resultPhase == phase, shard < tasks.count else {
            logger.debug("dropped a result of another step", metadata: ["worker": "\(worker.name)", "task": "\(key)"])
            return nil
        }
        tasks[shard].holders[worker.id] = nil
        guard !tasks[shard].done else {
            logger.info("dropped a duplicate result", metadata: ["worker": "\(worker.name)", "task": "\(key)"])
            return nil
        }
        guard weightsVersion == UInt64(stepsDone) else {
            refuseResult(from: worker, header: header, reason: "computed with weights \(weightsVersion), the step uses \(stepsDone)")
            return nil
        }
        return (shard, sent)
    }

    /// Adds an accepted task to the step's timing. A task queued behind
    /// another is timed from when the earlier result arrived (or from when
    /// it was sent, if later), so the time both overlap counts once: per
    /// worker, compute plus communication is the time it held work.
    private func recordTiming(_ timing: TaskTiming, of worker: WorkerEntry, sent: ContinuousClock.Instant?, phase: ShardPhase) {
        let now = ContinuousClock.now
        let start = sent.map { sent in worker.lastResultAt.map { max(sent, $0) } ?? sent }
        worker.lastResultAt = now
        let roundTrip = start.map { Self.seconds(now - $0) } ?? timing.handlingSeconds
        self.timing.workerCompute += timing.computeSeconds
        self.timing.roundTripOverhead += max(0, roundTrip - timing.computeSeconds)
        usedWorkers.insert(worker.id)
        durations.record(roundTrip, phase: phase)
        worker.tasksDone += 1
    }

    private func acceptEmbeddings(_ body: ShardEmbeddings, _ message: DecodedMessage, from worker: WorkerEntry) throws(ClusterError) {
        guard let (shard, sent) = admit(message.header, phase: .embeddings, weightsVersion: body.weightsVersion, from: worker) else { return }
        let expected = matrices.map { EmbeddingBlock(kind: Self.kind($0), rows: UInt32(shardSize), columns: UInt32(width)) }
        guard body.blocks == expected else {
            refuseResult(from: worker, header: message.header, reason: "embeddings blocks \(body.blocks) are not \(expected)")
            return
        }
        let count = message.floats.count
        message.floats.copy(into: UnsafeMutableBufferPointer(start: scratch.pointer, count: count))
        let rows = shard * shardSize
        for index in matrices.indices {
            (gathered[index].pointer + rows * width).update(from: scratch.pointer + index * shardSize * width, count: shardSize * width)
        }
        tasks[shard].done = true
        worker.lastEmbedded = TaskKey(step: stepsDone, phase: .embeddings, shard: shard)
        recordTiming(body.timing, of: worker, sent: sent, phase: .embeddings)
        if tasks.allSatisfy(\.done) {
            phase = .gradient
            tasks = Array(repeating: TaskState(), count: config.microShards)
        }
    }

    private func acceptGradient(_ body: ShardGradient, _ message: DecodedMessage, from worker: WorkerEntry) throws(ClusterError) {
        let resultPhase: ShardPhase = config.loss.shardLocalNegatives ? .shardLocal : .gradient
        guard let (shard, sent) = admit(message.header, phase: resultPhase, weightsVersion: body.weightsVersion, from: worker) else { return }
        guard message.floats.count == parameterCount, Int(body.sampleCount) == shardSize else {
            refuseResult(from: worker, header: message.header,
                         reason: "a gradient of \(message.floats.count) floats for \(body.sampleCount) samples; expected \(parameterCount) for \(shardSize)")
            return
        }
        let names = ["task"] + config.loss.terms.map(\.description) + ["total"]
        guard body.lossTerms.map(\.name) == names else {
            refuseResult(from: worker, header: message.header, reason: "loss terms \(body.lossTerms.map(\.name)) are not \(names)")
            return
        }
        var clock = StepClock()
        message.floats.copy(into: UnsafeMutableBufferPointer(start: scratch.pointer, count: parameterCount))
        gradientSum?.add(shard: shard, UnsafePointer(scratch.pointer))
        timing.coordinatorCompute += clock.lap()
        let values = body.lossTerms.map(\.value)
        let losses = StepLosses(task: values[0], terms: Array(values[1..<(values.count - 1)]), total: values[values.count - 1],
                                logitScale: body.logitScale, logitScaleGradient: body.logitScaleGradient)
        if resultPhase == .gradient, let other = results.compactMap({ $0 }).first,
           other.logitScaleGradient.bitPattern != losses.logitScaleGradient.bitPattern || other.total != losses.total {
            logger.error("workers disagree on the full-batch loss of a step (non-deterministic set-up? different BLAS cores?)",
                         metadata: ["worker": "\(worker.name)", "step": "\(stepsDone + 1)", "shard": "\(shard)"])
        }
        results[shard] = losses
        tasks[shard].done = true
        recordTiming(body.timing, of: worker, sent: sent, phase: resultPhase)
        if tasks.allSatisfy(\.done) { try applyStep() }
    }

    /// All shard gradients are in: the same step 4 as `DistillationStep`.
    private func applyStep() throws(ClusterError) {
        guard let components, let optimizer, let gradientSum, gradientSum.isComplete else { return }
        let oneBased = stepsDone + 1
        if options.faults.coordinatorCrash(kind: .coordinatorCrash, step: oneBased) != nil {
            FaultInjection.crashOnce(run: runDirectory, kind: .coordinatorCrash, step: oneBased, logger: logger)
        }
        var clock = StepClock()
        let student = components.student
        let g = student.parameters.gradients.pointer
        g.update(from: gradientSum.result, count: parameterCount)
        let shardLosses = results.compactMap { $0 }
        let losses = config.loss.shardLocalNegatives ? ShardLocalNegatives.combine(shardLosses) : shardLosses[0]
        g[student.logitScaleOffset] += losses.logitScaleGradient
        let learningRate = components.schedule.learningRate(atStep: stepsDone)
        let report: GradientNormReport
        do {
            report = try DistillationStep.applyOptimizer(student: student, optimizer: optimizer, maxGradientNorm: config.optimizer.maxGradNorm,
                                                         learningRate: learningRate, stepIndex: stepsDone)
        } catch { throw .training(error) }
        timing.coordinatorCompute += clock.lap()
        timing.wall = Self.seconds(ContinuousClock.now - stepStart)
        timing.workersUsed = usedWorkers.count
        stepsDone += 1
        stepActive = false
        weightsMessage = nil
        taskFailures.removeAll()

        let total = components.totalSteps
        if config.checkpoint.everySteps > 0 && stepsDone % config.checkpoint.everySteps == 0 && stepsDone < total {
            var checkpointClock = StepClock()
            _ = try checkpoint(stepsDone)
            timing.checkpoint = checkpointClock.lap()
        }
        var record = StepMetrics(
            step: stepsDone, total: losses.total, task: losses.task,
            terms: zip(config.loss.terms.map(\.description), losses.terms).map { (name: $0.0, value: $0.1) },
            learningRate: learningRate, gradientNorm: report.norm, logitScale: Double(losses.logitScale),
            stepTime: timing.wall, dataTime: 0, pairsPerSecond: Double(config.batchSize) / max(timing.wall, 1e-9))
        record.extraFields = timing.fields(liveWorkers: liveReady)
        if stepsDone % max(1, config.log.everySteps) == 0 || stepsDone == total || stepsDone == 1 {
            do { try metrics?.append(record) } catch { throw .training(error) }
        }
        progress?.update(step: stepsDone, metrics: record, detail: "workers \(liveReady)")
    }

    /// Writes the checkpoint of `steps` completed steps (once per step).
    private func checkpoint(_ steps: Int) throws(ClusterError) -> String {
        guard let components, let optimizer else { throw .setup("the coordinator is not set up") }
        let path = runDirectory.checkpointPath(step: steps)
        if lastCheckpointStep == steps, FileManager.default.fileExists(atPath: path) { return path }
        let crash = options.faults.coordinatorCrash(kind: .checkpointCrash, step: steps) != nil
        let run = runDirectory, logger = self.logger
        do {
            try TrainingCheckpoint.write(
                run: run, step: steps, totalSteps: components.totalSteps, batchSize: config.batchSize,
                configDigest: components.configDigest, config: components.studentConfig, store: components.student.parameters,
                optimizer: optimizer, extraFiles: components.extraFiles, keepLast: config.checkpoint.keepLast,
                beforeInstall: { if crash { FaultInjection.crashOnce(run: run, kind: .checkpointCrash, step: steps, logger: logger) } })
        } catch { throw .training(error) }
        lastCheckpointStep = steps
        progress?.message("checkpoint \(path)")
        return path
    }

    private func finish() throws(ClusterError) -> CoordinatorOutcome {
        guard let components else { throw .setup("the coordinator is not set up") }
        let total = components.totalSteps
        _ = try checkpoint(total)
        do {
            try CheckpointDirectory.write(to: runDirectory.finalPath, config: components.studentConfig, store: components.student.parameters,
                                          copying: components.extraFiles, replaceExisting: true)
        } catch {
            throw .training(.checkpoint("cannot write the final model to \(runDirectory.finalPath): \(error)"))
        }
        progress?.finishLine()
        let summary = workers.values.sorted { $0.id < $1.id }.map { "\($0.name): \($0.tasksDone) tasks" }.joined(separator: ", ")
        if !summary.isEmpty { options.say("workers: \(summary)") }
        broadcastShutdown(reason: "training finished")
        return .completed(steps: total, finalDirectory: runDirectory.finalPath,
                          weightsDigest: ModelDigest.sha256(of: components.student.parameters))
    }

    private func stop(signal: Int32) throws(ClusterError) -> CoordinatorOutcome {
        progress?.finishLine()
        var path: String?
        if lastCheckpointStep != stepsDone || stepsDone == 0 { path = try checkpoint(stepsDone) } else {
            path = runDirectory.checkpointPath(step: stepsDone)
        }
        broadcastShutdown(reason: "the coordinator was stopped by signal \(signal)")
        return .stopped(steps: stepsDone, checkpoint: path, signal: signal)
    }
}
