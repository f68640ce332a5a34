import Crypto
import Dispatch
import Foundation
import Logging

/// A worker's compute thread: builds the run from the coordinator's
/// announcement, keeps the student (and teacher) weights the coordinator
/// sends, and computes tasks with the same `MicroShardComputer` the
/// single-process step uses, one at a time, single-threaded, so a shard's
/// result is bit-identical whichever worker computes it.
final class WorkerCompute {
    let shared: WorkerShared
    let logger: Logger
    /// The worker's own config (`--config`), which must match the run's.
    let ownConfig: TrainingConfig?
    let scratchDirectory: String
    let environmentFaults: FaultPlan
    private var wake: ZeroMQSocket?

    private var runID: UInt64 = 0
    private var workerID: UInt32 = 0
    private var components: RunComponents?
    private var computer: MicroShardComputer?
    private var runDigest: String?
    private var config: TrainingConfig?
    private var teacherLoaded = false
    private var weightsVersion: UInt64?
    private let batch = TrainingBatch()
    private var filledStep: Int?
    private var filledRows = IndexSet()
    /// (step, shard, weights) whose student activations the towers hold.
    private var retained: (step: Int, shard: Int, version: UInt64)?
    private var gatheredStep: Int?
    private var lossStep: Int?
    private var losses: StepLosses?
    private var payload: ZeroMQSharedBytes?
    private var scratch = FloatBuffer(count: 0)

    init(shared: WorkerShared, logger: Logger, ownConfig: TrainingConfig?, scratchDirectory: String, environmentFaults: FaultPlan) {
        self.shared = shared
        self.logger = logger
        self.ownConfig = ownConfig
        self.scratchDirectory = scratchDirectory
        self.environmentFaults = environmentFaults
    }

    /// The thread's body: handles inbound items until told to stop.
    func run(context: ZeroMQContext) {
        defer { shared.computeExited.signal() }
        do {
            let socket = try ZeroMQSocket(context: context, type: .pair, linger: .zero)
            try socket.connect(shared.wakeEndpoint)
            wake = socket
        } catch {
            shared.setFatal(.zeroMQ(error))
            return
        }
        defer { wake?.close() }
        while true {
            switch shared.next() {
            case .stop:
                return
            case .reset:
                weightsVersion = nil
                gatheredStep = nil
                lossStep = nil
                retained = nil
            case let .welcome(welcome, runID, workerID):
                self.runID = runID
                self.workerID = workerID
                do { try setUp(welcome) } catch {
                    shared.setFatal(error)
                    send(.error(PeerError(code: error.isConfigurationMismatch ? .configurationMismatch : .other, message: error.description)),
                         step: 0)
                    return
                }
            case let .message(decoded, arrived):
                handle(decoded, arrived: arrived)
            }
        }
    }

    // MARK: - Set-up

    private func setUp(_ welcome: Welcome) throws(ClusterError) {
        shared.ready.store(false, ordering: .relaxed)
        weightsVersion = nil
        gatheredStep = nil
        lossStep = nil
        retained = nil
        let announcement = try RunAnnouncement.decode(welcome.configuration)
        let config: TrainingConfig
        do { config = try TrainingConfig.parse(yaml: announcement.configYAML, source: announcement.configSource) } catch {
            throw .configurationMismatch("the coordinator's config does not parse here: \(error)")
        }
        let canonical = RunAnnouncement.canonicalDigest(config)
        guard canonical == announcement.canonicalDigest else {
            throw .configurationMismatch("the coordinator's config reads differently here (canonical digest \(canonical.prefix(12))… "
                + "against \(announcement.canonicalDigest.prefix(12))…): run the same conaclip version everywhere")
        }
        if let own = ownConfig, RunAnnouncement.canonicalDigest(own) != canonical {
            throw .configurationMismatch("--config \(own.source) trains different weights from the coordinator's \(announcement.configSource) "
                + "(canonical digests \(RunAnnouncement.canonicalDigest(own).prefix(12))… and \(canonical.prefix(12))…); "
                + "start the worker without --config or with the same config")
        }
        if runDigest != announcement.runDigest || components == nil {
            components = nil
            computer = nil
            let made: RunComponents
            do {
                made = try RunComponents(config: config, workDirectory: scratchDirectory, teacherMode: .awaitWeights) { line in
                    self.logger.info("\(line)")
                }
            } catch { throw .training(error) }
            guard made.configDigest == announcement.runDigest else {
                throw .configurationMismatch("the run resolves differently here (run digest \(made.configDigest.prefix(12))… against "
                    + "\(announcement.runDigest.prefix(12))…): the model presets, tokenizer or teacher files differ from the coordinator's")
            }
            do {
                computer = try MicroShardComputer(student: made.student, teacher: made.teacher, terms: config.loss.terms,
                                                  taskWeight: config.loss.taskWeight)
            } catch { throw .training(error) }
            computer?.reserve(rows: config.batchSize)
            components = made
            runDigest = announcement.runDigest
            teacherLoaded = !made.teacherAwaitsWeights
            self.config = config
            do {
                let plan = try FaultPlan.parse(config: config.cluster.faults, environment: [:])
                shared.faults.withLock { $0 = FaultPlan(environmentFaults.faults + plan.faults) }
            } catch { throw .fault(error) }
            filledStep = nil
        }
        if teacherLoaded { becomeReady() }
    }

    private func becomeReady() {
        guard !shared.ready.load(ordering: .relaxed) else { return }
        shared.ready.store(true, ordering: .relaxed)
        logger.info("ready", metadata: ["worker-id": "\(workerID)"])
        signalNetwork()
    }

    // MARK: - Messages

    private func handle(_ decoded: DecodedMessage, arrived: ContinuousClock.Instant) {
        guard decoded.header.runID == runID, let components, let computer else {
            if case .assign = decoded.message { shared.pending.wrappingSubtract(1, ordering: .relaxed) }
            return
        }
        switch decoded.message {
        case let .weights(update):
            loadWeights(update, decoded.floats, components: components)
        case let .gathered(body):
            let n = config?.batchSize ?? 0, d = computer.width
            let expected = computer.matrices.map { EmbeddingBlock(kind: Coordinator.kind($0), rows: UInt32(n), columns: UInt32(d)) }
            guard body.blocks == expected, decoded.floats.count == n * d * expected.count else {
                send(.error(PeerError(code: .refusedMessage, message: "gathered blocks \(body.blocks) are not \(expected)")),
                     step: Int(decoded.header.step))
                return
            }
            ensureScratch(decoded.floats.count)
            decoded.floats.copy(into: UnsafeMutableBufferPointer(start: scratch.pointer, count: decoded.floats.count))
            for (index, matrix) in computer.matrices.enumerated() {
                computer.matrix(matrix, rows: 0..<n).baseAddress?.update(from: scratch.pointer + index * n * d, count: n * d)
            }
            gatheredStep = Int(decoded.header.step)
            lossStep = nil
        case let .assign(assignment):
            // Not busy any more once the result (or the error) is queued: the network thread sends it before the next heartbeat.
            defer { shared.pending.wrappingSubtract(1, ordering: .relaxed) }
            compute(assignment, decoded.header, arrived: arrived, components: components, computer: computer)
        default:
            break
        }
    }

    private func loadWeights(_ update: WeightsUpdate, _ floats: FloatPayload, components: RunComponents) {
        switch update.model {
        case .student:
            let store = components.student.parameters
            guard floats.count == store.count else {
                send(.error(PeerError(code: .refusedMessage, message: "student weights of \(floats.count) floats, the model has \(store.count)")), step: 0)
                return
            }
            floats.copy(into: store.values.buffer)
            weightsVersion = update.weightsVersion
            retained = nil
        case .teacher:
            guard let teacher = components.teacherModel else { return }
            let store = teacher.parameters
            guard floats.count == store.count else {
                shared.setFatal(.configurationMismatch("the coordinator's teacher has \(floats.count) parameters, this worker's \(store.count)"))
                return
            }
            floats.copy(into: store.values.buffer)
            if update.parameterDigest.count == 32 {
                let digest = Array(SHA256.hash(data: UnsafeRawBufferPointer(start: store.values.pointer, count: store.count * 4)))
                guard digest == update.parameterDigest else {
                    shared.setFatal(.protocolError(.malformed("the teacher weights' SHA-256 does not match the one sent with them")))
                    return
                }
            }
            teacherLoaded = true
            becomeReady()
        }
    }

    private func compute(_ assignment: ShardAssignment, _ header: WireHeader, arrived: ContinuousClock.Instant,
                         components: RunComponents, computer: MicroShardComputer) {
        guard let config, let rawShard = header.microShard else { return }
        let step = Int(header.step), shard = Int(rawShard)
        let faults = shared.faults.withLock { $0 }
        switch faults.workerFault(step: step + 1, worker: workerID, phase: assignment.phase) {
        case .exit?:
            logger.critical("fault injection: worker-exit at step \(step + 1): SIGKILL")
            kill(getpid(), SIGKILL)
        case let .stall(seconds)?:
            if let seconds {
                logger.warning("fault injection: worker-stall at step \(step + 1) for \(seconds) s")
                shared.stalledUntil.store(DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9), ordering: .relaxed)
                Thread.sleep(forTimeInterval: seconds)
            } else {
                logger.warning("fault injection: worker-stall at step \(step + 1): SIGSTOP")
                kill(getpid(), SIGSTOP)
            }
        case nil:
            break
        }
        let size = config.microShardSize, n = config.batchSize
        guard Int(assignment.microShardCount) == config.microShards, Int(assignment.sampleCount) == size,
              Int(assignment.firstSample) == shard * size else {
            send(.error(PeerError(code: .refusedMessage, message: "assignment \(assignment) does not fit micro_shards \(config.microShards) "
                + "of \(size) pairs")), step: step)
            return
        }
        guard teacherLoaded, weightsVersion == assignment.weightsVersion else {
            send(.error(PeerError(code: .missingInput, message: "no \(teacherLoaded ? "student weights \(assignment.weightsVersion)" : "teacher weights")")),
                 step: step, shard: shard)
            return
        }
        if assignment.phase == .gradient && gatheredStep != step {
            send(.error(PeerError(code: .missingInput, message: "no gathered embeddings of step \(step + 1)")), step: step, shard: shard)
            return
        }
        let rows = (shard * size)..<((shard + 1) * size)
        var clock = StepClock()
        do throws(TrainingError) {
            switch assignment.phase {
            case .embeddings:
                try fill(rows, step: step, components: components, computer: computer)
                try computer.embed(batch, rows: rows)
                retained = (step, shard, assignment.weightsVersion)
                let computeSeconds = clock.lap()
                let matrices = computer.matrices, d = computer.width
                ensureScratch(matrices.count * size * d)
                for (index, matrix) in matrices.enumerated() {
                    (scratch.pointer + index * size * d).update(from: computer.matrix(matrix, rows: rows).baseAddress.unsafelyUnwrapped, count: size * d)
                }
                let blocks = matrices.map { EmbeddingBlock(kind: Coordinator.kind($0), rows: UInt32(size), columns: UInt32(d)) }
                let timing = TaskTiming(computeSeconds: computeSeconds, handlingSeconds: Coordinator.seconds(ContinuousClock.now - arrived))
                send(.embeddings(ShardEmbeddings(weightsVersion: assignment.weightsVersion, blocks: blocks, timing: timing)), step: step,
                     shard: shard, floats: UnsafeBufferPointer(start: scratch.pointer, count: matrices.count * size * d))
            case .gradient, .shardLocal:
                var computeSeconds = 0.0
                let stepLosses: StepLosses
                if assignment.phase == .gradient {
                    if lossStep != step {
                        _ = clock.lap()
                        let evaluated = try computer.evaluateLoss(rows: 0..<n)
                        guard evaluated.total.isFinite else { throw TrainingError.nonFiniteLoss(step: step, value: evaluated.total) }
                        losses = evaluated
                        lossStep = step
                        computeSeconds += clock.lap()
                    }
                    guard let evaluated = losses else { return }
                    stepLosses = evaluated
                    if retained.map({ $0.step != step || $0.shard != shard || $0.version != assignment.weightsVersion }) ?? true {
                        _ = clock.lap()
                        try fill(rows, step: step, components: components, computer: computer)
                        try computer.forwardStudent(batch, rows: rows)
                        computeSeconds += clock.lap()
                    }
                } else {
                    _ = clock.lap()
                    try fill(rows, step: step, components: components, computer: computer)
                    try computer.embed(batch, rows: rows)
                    stepLosses = try computer.evaluateLoss(rows: rows, gradientScale: ShardLocalNegatives.gradientScale(shards: config.microShards))
                    guard stepLosses.total.isFinite else { throw TrainingError.nonFiniteLoss(step: step, value: stepLosses.total) }
                    computeSeconds += clock.lap()
                }
                let parameters = components.student.parameters
                _ = clock.lap()
                parameters.zeroGradients()
                try computer.backward(rows: rows)
                retained = nil
                computeSeconds += clock.lap()
                let poison = faults.poisonGradient(step: step + 1, worker: workerID)
                if poison {
                    logger.warning("fault injection: nan-gradient at step \(step + 1)")
                    parameters.gradients[0] = .nan
                }
                let names = ["task"] + config.loss.terms.map(\.description) + ["total"]
                let values = [stepLosses.task] + stepLosses.terms + [stepLosses.total]
                let timing = TaskTiming(computeSeconds: computeSeconds, handlingSeconds: Coordinator.seconds(ContinuousClock.now - arrived))
                let body = ShardGradient(weightsVersion: assignment.weightsVersion, sampleCount: UInt32(size),
                                         lossTerms: zip(names, values).map { LossTermValue(name: $0.0, value: $0.1) },
                                         logitScaleGradient: stepLosses.logitScaleGradient, logitScale: stepLosses.logitScale, timing: timing)
                send(.gradient(body), step: step, shard: shard, floats: UnsafeBufferPointer(parameters.gradients.buffer), checkFinite: !poison)
            }
        } catch {
            logger.error("task failed", metadata: ["step": "\(step + 1)", "shard": "\(shard)", "error": "\(error)"])
            retained = nil
            send(.error(PeerError(code: .computationFailed, message: "step \(step + 1) shard \(shard): \(error)")), step: step, shard: shard)
        }
    }

    /// Makes sure `batch` holds `rows` of step `step`.
    private func fill(_ rows: Range<Int>, step: Int, components: RunComponents, computer: MicroShardComputer) throws(TrainingError) {
        if filledStep != step {
            filledStep = step
            filledRows = IndexSet()
        }
        guard !filledRows.contains(integersIn: rows) else { return }
        try components.batchSource.fill(batch, step: step, batchSize: components.config.batchSize, rows: rows)
        try computer.checkShape(batch)
        filledRows.insert(integersIn: rows)
    }

    private func ensureScratch(_ count: Int) {
        if scratch.count < count { scratch = FloatBuffer(count: count) }
    }

    // MARK: - Sending

    private func send(_ message: ClusterMessage, step: Int, shard: Int? = nil,
                      floats: UnsafeBufferPointer<Float> = UnsafeBufferPointer(start: nil, count: 0), checkFinite: Bool = true) {
        let envelope = WireEnvelope(runID: runID, step: UInt64(max(0, step)), microShard: message.type.namesMicroShard ? shard.map(UInt32.init) : nil)
        do {
            let encoded = try WireCodec.encode(message, envelope: envelope, floats: floats, reusing: &payload, checkFinite: checkFinite)
            shared.queue(WorkerOutbound(message: encoded, type: message.type, step: step))
            signalNetwork()
        } catch {
            logger.error("cannot encode a \(message.type) message: \(error)")
            // A result that cannot be sent (non-finite embeddings or gradients of a diverged run) is reported as a
            // failed task, so the coordinator recomputes it elsewhere or, if every worker fails it, stops the run.
            guard message.type == .embeddings || message.type == .gradient else { return }
            let what = shard.map { "step \(step + 1) shard \($0)" } ?? "step \(step + 1)"
            send(.error(PeerError(code: .computationFailed, message: "\(what): the \(message.type) cannot be sent: \(error) "
                + "(a diverged run? lower optimizer.lr)")), step: step, shard: shard)
        }
    }

    private func signalNetwork() {
        try? wake?.send(frames: [[1]], timeout: .seconds(1))
    }
}

extension ClusterError {
    var isConfigurationMismatch: Bool {
        if case .configurationMismatch = self { return true }
        return false
    }
}
