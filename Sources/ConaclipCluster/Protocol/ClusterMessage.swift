/// A decoded message's metadata, one case per message type.
public enum ClusterMessage: Sendable, Equatable {
    case register(WorkerRegistration)
    case welcome(Welcome)
    case heartbeat(Heartbeat)
    case weights(WeightsUpdate)
    case assign(ShardAssignment)
    case embeddings(ShardEmbeddings)
    case gathered(GatheredEmbeddings)
    case gradient(ShardGradient)
    case resultAck(ResultAck)
    case shutdown(Shutdown)
    case error(PeerError)
    case goodbye(Goodbye)

    /// The message's type.
    public var type: MessageType {
        switch self {
        case .register: return .register
        case .welcome: return .welcome
        case .heartbeat: return .heartbeat
        case .weights: return .weights
        case .assign: return .assign
        case .embeddings: return .embeddings
        case .gathered: return .gathered
        case .gradient: return .gradient
        case .resultAck: return .resultAck
        case .shutdown: return .shutdown
        case .error: return .error
        case .goodbye: return .goodbye
        }
    }

    /// The body, as its protocol.
    var body: any WireBody {
        switch self {
        case let .register(body): return body
        case let .welcome(body): return body
        case let .heartbeat(body): return body
        case let .weights(body): return body
        case let .assign(body): return body
        case let .embeddings(body): return body
        case let .gathered(body): return body
        case let .gradient(body): return body
        case let .resultAck(body): return body
        case let .shutdown(body): return body
        case let .error(body): return body
        case let .goodbye(body): return body
        }
    }

    /// Reads the body of a message of `type`, refusing trailing bytes.
    static func read(_ type: MessageType, from meta: UnsafeRawBufferPointer) throws(ProtocolError) -> ClusterMessage {
        var reader = WireReader(meta, context: "\(type) metadata")
        let message: ClusterMessage
        switch type {
        case .register: message = .register(try .read(from: &reader))
        case .welcome: message = .welcome(try .read(from: &reader))
        case .heartbeat: message = .heartbeat(try .read(from: &reader))
        case .weights: message = .weights(try .read(from: &reader))
        case .assign: message = .assign(try .read(from: &reader))
        case .embeddings: message = .embeddings(try .read(from: &reader))
        case .gathered: message = .gathered(try .read(from: &reader))
        case .gradient: message = .gradient(try .read(from: &reader))
        case .resultAck: message = .resultAck(try .read(from: &reader))
        case .shutdown: message = .shutdown(try .read(from: &reader))
        case .error: message = .error(try .read(from: &reader))
        case .goodbye: message = .goodbye(try .read(from: &reader))
        }
        try reader.finish()
        return message
    }
}

/// Where a message belongs: the run, the step and (for shard messages) the micro-shard.
public struct WireEnvelope: Sendable, Equatable {
    public var runID: UInt64
    public var step: UInt64
    public var microShard: UInt32?

    public init(runID: UInt64, step: UInt64 = 0, microShard: UInt32? = nil) {
        self.runID = runID
        self.step = step
        self.microShard = microShard
    }
}
