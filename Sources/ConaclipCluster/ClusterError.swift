/// Why a coordinator or worker stopped with an error. Each case says what
/// failed and, where the user can act, what to do.
public enum ClusterError: Error, CustomStringConvertible {
    case training(TrainingError)
    case transport(ClusterTransportError)
    case zeroMQ(ZeroMQError)
    case security(SecurityError)
    case protocolError(ProtocolError)
    case fault(FaultSpecError)
    /// The endpoint or the security flags do not fit together.
    case setup(String)
    /// The worker's configuration differs from the run's.
    case configurationMismatch(String)
    /// The coordinator refused this worker for good.
    case refused(String)
    /// No coordinator answered for too long.
    case coordinatorUnreachable(String)
    /// A task failed on several workers (a diverged run, or data every worker
    /// fails on), so recomputing it elsewhere cannot help.
    case taskFailedEverywhere(String)

    /// `error` as a cluster error: the case that carries its type, or
    /// `.setup` with its description. For the untyped `throws` of set-up code.
    init(wrapping error: any Error) {
        switch error {
        case let error as ClusterError: self = error
        case let error as TrainingError: self = .training(error)
        case let error as ClusterTransportError: self = .transport(error)
        case let error as ZeroMQError: self = .zeroMQ(error)
        case let error as SecurityError: self = .security(error)
        case let error as ProtocolError: self = .protocolError(error)
        case let error as FaultSpecError: self = .fault(error)
        default: self = .setup("\(error)")
        }
    }

    public var description: String {
        switch self {
        case let .training(error): return error.description
        case let .transport(error): return error.description
        case let .zeroMQ(error): return error.description
        case let .security(error): return error.description
        case let .protocolError(error): return error.description
        case let .fault(error): return error.description
        case let .setup(reason): return reason
        case let .configurationMismatch(reason): return "configuration mismatch: \(reason)"
        case let .refused(reason): return "refused by the coordinator: \(reason)"
        case let .coordinatorUnreachable(reason): return reason
        case let .taskFailedEverywhere(reason): return reason
        }
    }
}
