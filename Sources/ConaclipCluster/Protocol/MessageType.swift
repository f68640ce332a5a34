/// The kinds of message in the distributed step, and what each may carry.
///
/// One step: a worker `register`s and is `welcome`d; the coordinator sends
/// `weights` when they change and an `assign` per micro-shard; the worker
/// returns the shard's `embeddings`; once all shards are in, the coordinator
/// broadcasts the `gathered` full-batch embeddings; each worker returns a
/// `gradient` per micro-shard, which the coordinator confirms with a
/// `resultAck`. `heartbeat`s flow both ways throughout; `shutdown`,
/// `goodbye` and `error` end or explain things.
public enum MessageType: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    /// Worker -> coordinator: I am here (name, host, pid, threads).
    case register = 1
    /// Coordinator -> worker: you are worker N of this run; heartbeat settings; run configuration.
    case welcome = 2
    /// Both ways: still alive.
    case heartbeat = 3
    /// Coordinator -> worker: the student weights of a version (floats).
    case weights = 4
    /// Coordinator -> worker: compute this micro-shard of this step.
    case assign = 5
    /// Worker -> coordinator: the micro-shard's teacher and student embeddings (floats).
    case embeddings = 6
    /// Coordinator -> workers: the whole batch's embeddings (floats).
    case gathered = 7
    /// Worker -> coordinator: the micro-shard's parameter gradient and loss terms (floats).
    case gradient = 8
    /// Coordinator -> worker: a result was received and accepted.
    case resultAck = 9
    /// Coordinator -> worker: stop now.
    case shutdown = 10
    /// Both ways: a message was refused or a computation failed.
    case error = 11
    /// Worker -> coordinator: I am leaving.
    case goodbye = 12

    /// Whether a message of this type carries a float payload.
    public var carriesFloats: Bool {
        switch self {
        case .weights, .embeddings, .gathered, .gradient: return true
        default: return false
        }
    }

    /// Whether every float must be finite (NaN or infinity refuses the
    /// message: a non-finite gradient is recomputed, never applied).
    public var requiresFiniteFloats: Bool { carriesFloats }

    /// Whether the header must name a micro-shard.
    public var namesMicroShard: Bool {
        switch self {
        case .assign, .embeddings, .gradient, .resultAck: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .register: return "register"
        case .welcome: return "welcome"
        case .heartbeat: return "heartbeat"
        case .weights: return "weights"
        case .assign: return "assign"
        case .embeddings: return "embeddings"
        case .gathered: return "gathered"
        case .gradient: return "gradient"
        case .resultAck: return "result-ack"
        case .shutdown: return "shutdown"
        case .error: return "error"
        case .goodbye: return "goodbye"
        }
    }
}
