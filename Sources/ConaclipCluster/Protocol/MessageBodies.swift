/// The metadata of one message type: how it is written to and read from
/// the metadata frame, and what it must agree with in the header.
public protocol WireBody: Sendable, Equatable {
    /// The message type this body belongs to.
    static var messageType: MessageType { get }
    /// Writes the body's fields.
    func write(to writer: inout WireWriter)
    /// Reads the body's fields (the caller refuses trailing bytes).
    static func read(from reader: inout WireReader) throws(ProtocolError) -> Self
    /// Checks the body against its header (float count, micro-shard).
    func validate(against header: WireHeader) throws(ProtocolError)
}

extension WireBody {
    public func validate(against header: WireHeader) throws(ProtocolError) {}
}

/// Worker -> coordinator, first message: who the worker is.
public struct WorkerRegistration: WireBody {
    public static let messageType = MessageType.register
    /// A name for logs (for example the host name and a rank).
    public var name: String
    public var hostname: String
    public var processID: UInt32
    /// Compute threads the worker will use.
    public var threads: UInt16
    /// Digest of the training configuration the worker was started with
    /// (empty if it takes the coordinator's).
    public var configDigest: String

    public init(name: String, hostname: String, processID: UInt32, threads: UInt16, configDigest: String = "") {
        self.name = name
        self.hostname = hostname
        self.processID = processID
        self.threads = threads
        self.configDigest = configDigest
    }

    public func write(to writer: inout WireWriter) {
        writer.string(name); writer.string(hostname); writer.u32(processID); writer.u16(threads); writer.string(configDigest)
    }

    public static func read(from reader: inout WireReader) throws(ProtocolError) -> WorkerRegistration {
        WorkerRegistration(name: try reader.string(maxBytes: WireProtocol.maxStringBytes), hostname: try reader.string(maxBytes: WireProtocol.maxStringBytes),
                           processID: try reader.u32(), threads: try reader.u16(),
                           configDigest: try reader.string(maxBytes: WireProtocol.maxStringBytes))
    }
}

/// Coordinator -> worker: the worker's number in this run and how to behave.
public struct Welcome: WireBody {
    public static let messageType = MessageType.welcome
    public var workerID: UInt32
    /// How often each side sends a heartbeat.
    public var heartbeatIntervalMilliseconds: UInt32
    /// Silence after which a peer is declared gone.
    public var heartbeatTimeoutMilliseconds: UInt32
    /// The run's configuration, opaque to the protocol (e.g. JSON).
    public var configuration: [UInt8]

    public init(workerID: UInt32, heartbeatIntervalMilliseconds: UInt32, heartbeatTimeoutMilliseconds: UInt32,
                configuration: [UInt8] = []) {
        self.workerID = workerID
        self.heartbeatIntervalMilliseconds = heartbeatIntervalMilliseconds
        self.heartbeatTimeoutMilliseconds = heartbeatTimeoutMilliseconds
        self.configuration = configuration
    }

    public func write(to writer: inout WireWriter) {
        writer.u32(workerID); writer.u32(heartbeatIntervalMilliseconds); writer.u32(heartbeatTimeoutMilliseconds)
        writer.blob(configuration)
    }

    public static func read(from reader: inout WireReader) throws(ProtocolError) -> Welcome {
        Welcome(workerID: try reader.u32(), heartbeatIntervalMilliseconds: try reader.u32(),
                heartbeatTimeoutMilliseconds: try reader.u32(), configuration: try reader.blob(maxBytes: reader.remaining))
    }

    public func validate(against header: WireHeader) throws(ProtocolError) {
        guard heartbeatIntervalMilliseconds > 0, heartbeatTimeoutMilliseconds > heartbeatIntervalMilliseconds else {
            throw .malformed("welcome: heartbeat timeout (\(heartbeatTimeoutMilliseconds) ms) must exceed a positive interval (\(heartbeatIntervalMilliseconds) ms)")
        }
    }
}

/// Both ways: still alive, whether busy computing, and (from a worker)
/// whether it is ready for tasks (it has built the run after its welcome)
/// and how many assignments it has received since it registered, so the
/// coordinator can tell a lost assignment or a lost result from a slow one.
public struct Heartbeat: WireBody {
    public static let messageType = MessageType.heartbeat
    /// Counts up per sender, so gaps are visible in logs.
    public var sequence: UInt64
    /// A worker: some task it received is not finished (its result not yet sent).
    public var busy: Bool
    /// A worker: set up and able to take tasks. The coordinator sends true.
    public var ready: Bool
    /// A worker: assignments received since its last welcome. The coordinator sends 0.
    public var assignmentsReceived: UInt64

    public init(sequence: UInt64, busy: Bool, ready: Bool = true, assignmentsReceived: UInt64 = 0) {
        self.sequence = sequence
        self.busy = busy
        self.ready = ready
        self.assignmentsReceived = assignmentsReceived
    }

    public func write(to writer: inout WireWriter) {
        writer.u64(sequence); writer.bool(busy); writer.bool(ready); writer.u64(assignmentsReceived)
    }

    public static func read(from reader: inout WireReader) throws(ProtocolError) -> Heartbeat {
        Heartbeat(sequence: try reader.u64(), busy: try reader.bool(), ready: try reader.bool(), assignmentsReceived: try reader.u64())
    }
}

/// Which model a weights message holds.
public enum WeightsModel: UInt8, Sendable, CustomStringConvertible {
    /// The student being trained (sent whenever it changed).
    case student = 1
    /// The frozen teacher (sent once, when the worker cannot make it itself,
    /// e.g. a teacher the coordinator pre-trained on the spot).
    case teacher = 2

    public var description: String { self == .student ? "student" : "teacher" }
}

/// Coordinator -> worker: the full weights of one version of a model; the
/// floats are its flat parameter vector.
public struct WeightsUpdate: WireBody {
    public static let messageType = MessageType.weights
    /// The number of optimizer steps applied to produce these weights.
    public var weightsVersion: UInt64
    /// SHA-256 of the parameters as the coordinator holds them (32 bytes), or empty.
    public var parameterDigest: [UInt8]
    public var model: WeightsModel

    public init(weightsVersion: UInt64, parameterDigest: [UInt8] = [], model: WeightsModel = .student) {
        self.weightsVersion = weightsVersion
        self.parameterDigest = parameterDigest
        self.model = model
    }

    public func write(to writer: inout WireWriter) { writer.u64(weightsVersion); writer.blob(parameterDigest); writer.u8(model.rawValue) }

    public static func read(from reader: inout WireReader) throws(ProtocolError) -> WeightsUpdate {
        let version = try reader.u64(), digest = try reader.blob(maxBytes: 64)
        let raw = try reader.u8()
        guard let model = WeightsModel(rawValue: raw) else { throw .malformed("weights: unknown model \(raw)") }
        return WeightsUpdate(weightsVersion: version, parameterDigest: digest, model: model)
    }

    public func validate(against header: WireHeader) throws(ProtocolError) {
        guard header.floatCount > 0 else { throw .malformed("weights message without parameters") }
        guard parameterDigest.isEmpty || parameterDigest.count == 32 else {
            throw .malformed("weights digest has \(parameterDigest.count) bytes, expected 32 or none")
        }
    }
}

/// Which half of the step a micro-shard computation is for.
public enum ShardPhase: UInt8, Sendable, CustomStringConvertible {
    /// Forward pass: compute and return the shard's embeddings.
    case embeddings = 1
    /// Backward pass: given the gathered embeddings, return the shard's gradient.
    case gradient = 2
    /// Shard-local negatives: embed, evaluate the loss on the shard alone,
    /// back-propagate, and return the shard's gradient (no gather).
    case shardLocal = 3

    public var description: String {
        switch self {
        case .embeddings: return "embeddings"
        case .gradient: return "gradient"
        case .shardLocal: return "shard-local"
        }
    }
}

/// Coordinator -> worker: compute micro-shard `header.microShard` of
/// `header.step`. Sample order is a pure function of (seed, epoch, step), so
/// the worker derives the samples itself; the range is sent to be checked.
public struct ShardAssignment: WireBody {
    public static let messageType = MessageType.assign
    public var phase: ShardPhase
    /// The weights the computation must use.
    public var weightsVersion: UInt64
    public var epoch: UInt64
    /// Micro-shards per global batch (fixed by the configuration).
    public var microShardCount: UInt32
    /// Position of the shard's first sample in the global batch.
    public var firstSample: UInt32
    public var sampleCount: UInt32

    public init(phase: ShardPhase, weightsVersion: UInt64, epoch: UInt64, microShardCount: UInt32,
                firstSample: UInt32, sampleCount: UInt32) {
        self.phase = phase
        self.weightsVersion = weightsVersion
        self.epoch = epoch
        self.microShardCount = microShardCount
        self.firstSample = firstSample
        self.sampleCount = sampleCount
    }

    public func write(to writer: inout WireWriter) {
        writer.u8(phase.rawValue); writer.u64(weightsVersion); writer.u64(epoch)
        writer.u32(microShardCount); writer.u32(firstSample); writer.u32(sampleCount)
    }

    public static func read(from reader: inout WireReader) throws(ProtocolError) -> ShardAssignment {
        let rawPhase = try reader.u8()
        guard let phase = ShardPhase(rawValue: rawPhase) else { throw .malformed("assign: unknown phase \(rawPhase)") }
        return ShardAssignment(phase: phase, weightsVersion: try reader.u64(), epoch: try reader.u64(),
                               microShardCount: try reader.u32(), firstSample: try reader.u32(), sampleCount: try reader.u32())
    }

    public func validate(against header: WireHeader) throws(ProtocolError) {
        guard let shard = header.microShard, shard < microShardCount else {
            throw .malformed("assign: micro-shard \(header.microShard.map(String.init) ?? "none") outside 0..<\(microShardCount)")
        }
        guard sampleCount > 0 else { throw .malformed("assign: empty micro-shard") }
    }
}

/// Which embedding matrix a block of floats is.
public enum EmbeddingKind: UInt16, Sendable, CaseIterable {
    case teacherImage = 1
    case teacherText = 2
    case studentImage = 3
    case studentText = 4
}

/// One row-major matrix inside a float payload.
public struct EmbeddingBlock: Sendable, Equatable {
    public var kind: EmbeddingKind
    public var rows: UInt32
    public var columns: UInt32

    public init(kind: EmbeddingKind, rows: UInt32, columns: UInt32) {
        self.kind = kind
        self.rows = rows
        self.columns = columns
    }

    /// Floats in the block.
    public var count: Int { Int(rows) * Int(columns) }
}

/// The blocks of an embeddings payload, written as a u16 count then
/// (kind u16, rows u32, columns u32) per block.
enum EmbeddingBlocks {
    static let maxBlocks = 16

    static func write(_ blocks: [EmbeddingBlock], to writer: inout WireWriter) {
        writer.u16(UInt16(min(blocks.count, maxBlocks)))
        for block in blocks.prefix(maxBlocks) { writer.u16(block.kind.rawValue); writer.u32(block.rows); writer.u32(block.columns) }
    }

    static func read(from reader: inout WireReader, _ context: String) throws(ProtocolError) -> [EmbeddingBlock] {
        let count = Int(try reader.u16())
        guard count <= maxBlocks else { throw .oversized(what: "\(context) block count", limit: maxBlocks, actual: count) }
        var blocks: [EmbeddingBlock] = []
        for _ in 0..<count {
            let rawKind = try reader.u16()
            guard let kind = EmbeddingKind(rawValue: rawKind) else { throw .malformed("\(context): unknown embedding kind \(rawKind)") }
            blocks.append(EmbeddingBlock(kind: kind, rows: try reader.u32(), columns: try reader.u32()))
        }
        return blocks
    }

    /// The blocks must be distinct kinds, non-empty, and cover the floats exactly.
    static func validate(_ blocks: [EmbeddingBlock], floatCount: UInt64, _ context: String) throws(ProtocolError) {
        guard !blocks.isEmpty else { throw .malformed("\(context): no embedding blocks") }
        guard Set(blocks.map(\.kind)).count == blocks.count else { throw .malformed("\(context): an embedding kind appears twice") }
        var total: UInt64 = 0
        for block in blocks {
            guard block.rows > 0, block.columns > 0 else { throw .malformed("\(context): empty \(block.kind) block") }
            total += UInt64(block.rows) * UInt64(block.columns)  // each term < 2^64 / 16, cannot overflow
        }
        guard total == floatCount else {
            throw .malformed("\(context): blocks describe \(total) floats, the payload has \(floatCount)")
        }
    }
}

/// How long a worker spent on a task, reported with its result (for the
/// coordinator's compute / communication / waiting split).
public struct TaskTiming: Sendable, Equatable {
    /// Model computation (forward, loss, backward), seconds.
    public var computeSeconds: Double
    /// From the task's arrival to the result's send, seconds (compute plus
    /// reading inputs and encoding the result).
    public var handlingSeconds: Double

    public init(computeSeconds: Double = 0, handlingSeconds: Double = 0) {
        self.computeSeconds = computeSeconds
        self.handlingSeconds = handlingSeconds
    }

    func write(to writer: inout WireWriter) { writer.f64(computeSeconds); writer.f64(handlingSeconds) }

    static func read(from reader: inout WireReader, _ context: String) throws(ProtocolError) -> TaskTiming {
        let timing = TaskTiming(computeSeconds: try reader.f64(), handlingSeconds: try reader.f64())
        guard timing.computeSeconds.isFinite, timing.computeSeconds >= 0, timing.handlingSeconds.isFinite, timing.handlingSeconds >= 0 else {
            throw .malformed("\(context): task timing must be finite and non-negative")
        }
        return timing
    }
}

/// Worker -> coordinator: a micro-shard's embeddings (all four towers).
public struct ShardEmbeddings: WireBody {
    public static let messageType = MessageType.embeddings
    public var weightsVersion: UInt64
    /// The matrices, in payload order.
    public var blocks: [EmbeddingBlock]
    public var timing: TaskTiming

    public init(weightsVersion: UInt64, blocks: [EmbeddingBlock], timing: TaskTiming = TaskTiming()) {
        self.weightsVersion = weightsVersion
        self.blocks = blocks
        self.timing = timing
    }

    public func write(to writer: inout WireWriter) {
        writer.u64(weightsVersion); EmbeddingBlocks.write(blocks, to: &writer); timing.write(to: &writer)
    }

    public static func read(from reader: inout WireReader) throws(ProtocolError) -> ShardEmbeddings {
        ShardEmbeddings(weightsVersion: try reader.u64(), blocks: try EmbeddingBlocks.read(from: &reader, "embeddings"),
                        timing: try TaskTiming.read(from: &reader, "embeddings"))
    }

    public func validate(against header: WireHeader) throws(ProtocolError) {
        try EmbeddingBlocks.validate(blocks, floatCount: header.floatCount, "embeddings")
    }
}

/// Coordinator -> workers: the whole batch's embeddings, so every loss term
/// sees global negatives.
public struct GatheredEmbeddings: WireBody {
    public static let messageType = MessageType.gathered
    public var weightsVersion: UInt64
    public var blocks: [EmbeddingBlock]

    public init(weightsVersion: UInt64, blocks: [EmbeddingBlock]) {
        self.weightsVersion = weightsVersion
        self.blocks = blocks
    }

    public func write(to writer: inout WireWriter) { writer.u64(weightsVersion); EmbeddingBlocks.write(blocks, to: &writer) }

    public static func read(from reader: inout WireReader) throws(ProtocolError) -> GatheredEmbeddings {
        GatheredEmbeddings(weightsVersion: try reader.u64(), blocks: try EmbeddingBlocks.read(from: &reader, "gathered"))
    }

    public func validate(against header: WireHeader) throws(ProtocolError) {
        try EmbeddingBlocks.validate(blocks, floatCount: header.floatCount, "gathered")
    }
}

/// One named loss value.
public struct LossTermValue: Sendable, Equatable {
    public var name: String
    public var value: Double

    public init(name: String, value: Double) {
        self.name = name
        self.value = value
    }
}

/// Worker -> coordinator: a micro-shard's parameter gradient (the floats,
/// in parameter-store order) and its share of each loss term.
public struct ShardGradient: WireBody {
    public static let messageType = MessageType.gradient
    public var weightsVersion: UInt64
    public var sampleCount: UInt32
    public var lossTerms: [LossTermValue]
    /// `d loss / d logit_scale` as the worker computed it (the full batch's,
    /// or the shard's for shard-local negatives), exactly (float32 bits).
    public var logitScaleGradient: Float
    /// `exp(logit_scale)` as used by the task loss.
    public var logitScale: Float
    public var timing: TaskTiming

    static let maxLossTerms = 64
    static let maxNameBytes = 256

    public init(weightsVersion: UInt64, sampleCount: UInt32, lossTerms: [LossTermValue] = [],
                logitScaleGradient: Float = 0, logitScale: Float = 1, timing: TaskTiming = TaskTiming()) {
        self.weightsVersion = weightsVersion
        self.sampleCount = sampleCount
        self.lossTerms = lossTerms
        self.logitScaleGradient = logitScaleGradient
        self.logitScale = logitScale
        self.timing = timing
    }

    public func write(to writer: inout WireWriter) {
        writer.u64(weightsVersion); writer.u32(sampleCount)
        writer.u16(UInt16(min(lossTerms.count, Self.maxLossTerms)))
        for term in lossTerms.prefix(Self.maxLossTerms) { writer.string(term.name, maxBytes: Self.maxNameBytes); writer.f64(term.value) }
        writer.u32(logitScaleGradient.bitPattern); writer.u32(logitScale.bitPattern)
        timing.write(to: &writer)
    }

    public static func read(from reader: inout WireReader) throws(ProtocolError) -> ShardGradient {
        let version = try reader.u64(), samples = try reader.u32()
        let count = Int(try reader.u16())
        guard count <= maxLossTerms else { throw .oversized(what: "gradient loss term count", limit: maxLossTerms, actual: count) }
        var terms: [LossTermValue] = []
        for _ in 0..<count { terms.append(LossTermValue(name: try reader.string(maxBytes: maxNameBytes), value: try reader.f64())) }
        let logitGradient = Float(bitPattern: try reader.u32()), logitScale = Float(bitPattern: try reader.u32())
        return ShardGradient(weightsVersion: version, sampleCount: samples, lossTerms: terms, logitScaleGradient: logitGradient,
                             logitScale: logitScale, timing: try TaskTiming.read(from: &reader, "gradient"))
    }

    public func validate(against header: WireHeader) throws(ProtocolError) {
        guard header.floatCount > 0 else { throw .malformed("gradient message without a gradient") }
        guard sampleCount > 0 else { throw .malformed("gradient of an empty micro-shard") }
        if let bad = lossTerms.first(where: { !$0.value.isFinite }) {
            throw .malformed("gradient: loss term \(bad.name) is \(bad.value)")
        }
        guard logitScaleGradient.isFinite, logitScale.isFinite else {
            throw .malformed("gradient: the logit-scale gradient or scale is not finite")
        }
    }
}

/// Coordinator -> worker: the result for (step, micro-shard, phase) was accepted.
public struct ResultAck: WireBody {
    public static let messageType = MessageType.resultAck
    public var phase: ShardPhase

    public init(phase: ShardPhase) { self.phase = phase }

    public func write(to writer: inout WireWriter) { writer.u8(phase.rawValue) }

    public static func read(from reader: inout WireReader) throws(ProtocolError) -> ResultAck {
        let raw = try reader.u8()
        guard let phase = ShardPhase(rawValue: raw) else { throw .malformed("result-ack: unknown phase \(raw)") }
        return ResultAck(phase: phase)
    }
}

/// Coordinator -> worker: stop, and why.
public struct Shutdown: WireBody {
    public static let messageType = MessageType.shutdown
    public var reason: String

    public init(reason: String) { self.reason = reason }

    public func write(to writer: inout WireWriter) { writer.string(reason) }

    public static func read(from reader: inout WireReader) throws(ProtocolError) -> Shutdown {
        Shutdown(reason: try reader.string(maxBytes: WireProtocol.maxStringBytes))
    }
}

/// What went wrong, for a `PeerError`.
public enum PeerErrorCode: UInt16, Sendable {
    /// The peer's message was refused (see the text).
    case refusedMessage = 1
    /// A computation failed (for example a non-finite loss).
    case computationFailed = 2
    /// The worker's configuration does not match the run's.
    case configurationMismatch = 3
    /// The worker is not registered (or was forgotten); it should register again.
    case notRegistered = 4
    /// Anything else.
    case other = 5
    /// A task arrived without the inputs it needs (the weights or gathered
    /// embeddings it names); the coordinator sends them again.
    case missingInput = 6
    /// The peer was quarantined or refused for good (it should stop).
    case refused = 7
}

/// Both ways: an error report. The header's step and run id say what it is about.
public struct PeerError: WireBody {
    public static let messageType = MessageType.error
    public var code: PeerErrorCode
    public var message: String

    public init(code: PeerErrorCode, message: String) {
        self.code = code
        self.message = message
    }

    public func write(to writer: inout WireWriter) { writer.u16(code.rawValue); writer.string(message) }

    public static func read(from reader: inout WireReader) throws(ProtocolError) -> PeerError {
        let raw = try reader.u16()
        guard let code = PeerErrorCode(rawValue: raw) else { throw .malformed("error: unknown code \(raw)") }
        return PeerError(code: code, message: try reader.string(maxBytes: WireProtocol.maxStringBytes))
    }
}

/// Worker -> coordinator: leaving on purpose (its shards go elsewhere at once).
public struct Goodbye: WireBody {
    public static let messageType = MessageType.goodbye
    public var reason: String

    public init(reason: String) { self.reason = reason }

    public func write(to writer: inout WireWriter) { writer.string(reason) }

    public static func read(from reader: inout WireReader) throws(ProtocolError) -> Goodbye {
        Goodbye(reason: try reader.string(maxBytes: WireProtocol.maxStringBytes))
    }
}
