/// Socket settings for cluster traffic; the defaults follow DESIGN.md's
/// ZeroMQ facts (finite linger, capped frames, heartbeats on, immediate
/// connects, mandatory routing).
public struct ClusterSocketSettings: Sendable {
    /// Message sizes accepted; also sets ZMQ_MAXMSGSIZE (largest frame).
    public var limits = ProtocolLimits()
    /// How long unsent messages survive a close (the last ones, such as a
    /// shutdown or a goodbye, must leave even on a busy machine).
    public var linger: Duration = .seconds(2)
    /// ZMTP heartbeat: PING interval.
    public var heartbeatInterval: Duration = .seconds(1)
    /// ZMTP heartbeat: silence after which the connection is dropped.
    public var heartbeatTimeout: Duration = .seconds(5)
    /// Queued messages per peer. Messages are 1 MiB frames, so this bounds
    /// the memory a slow peer can pin.
    public var highWaterMark = 4096
    /// Time allowed for the (CURVE) handshake.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Reconnect delay after a drop, doubling up to the maximum.
    public var reconnectInterval: Duration = .milliseconds(100)
    public var reconnectIntervalMaximum: Duration = .seconds(5)

    public init() {}

    /// The options every cluster socket gets.
    var commonOptions: [ZeroMQSocketOption] {
        [
            .linger(linger),
            .maxMessageSize(bytes: limits.maxFrameBytes),
            .heartbeat(interval: heartbeatInterval, timeout: heartbeatTimeout, ttl: heartbeatTimeout),
            .sendHighWaterMark(highWaterMark),
            .receiveHighWaterMark(highWaterMark),
            .handshakeInterval(handshakeTimeout),
        ]
    }
}

/// How the coordinator's socket is secured.
public enum CoordinatorSecurity: Sendable {
    /// No encryption or authentication (one machine, or a trusted network).
    case plaintext
    /// CURVE with this server key; clients are checked by `authenticator`,
    /// which must already be running in the socket's context.
    case curve(serverKeyPair: ZeroMQCurveKeyPair, authenticator: ZAPAuthenticator)
}

/// How a worker's socket is secured.
public enum WorkerSecurity: Sendable {
    case plaintext
    /// CURVE with the worker's own key pair and the coordinator's public key.
    case curve(keyPair: ZeroMQCurveKeyPair, serverPublicKey: ZeroMQCurveKey)
}

/// Errors creating cluster sockets.
public enum ClusterTransportError: Error, Equatable, CustomStringConvertible {
    case zeroMQ(ZeroMQError)
    /// The authenticator belongs to another context, so it would check nothing.
    case authenticatorInOtherContext
    /// The authenticator was stopped; CURVE clients would be admitted unchecked.
    case authenticatorNotRunning

    public var description: String {
        switch self {
        case let .zeroMQ(error): return error.description
        case .authenticatorInOtherContext:
            return "the CURVE authenticator runs in another ZeroMQ context than the socket; create both from the same context"
        case .authenticatorNotRunning:
            return "the CURVE authenticator is stopped; start one before binding a CURVE socket"
        }
    }
}

/// Creates the coordinator's ROUTER and the workers' DEALERs with the
/// options cluster traffic needs.
public enum ClusterSockets {
    /// The ZAP domain of cluster sockets.
    public static let zapDomain = "conaclip"

    /// A ROUTER bound to `endpoint` (e.g. `tcp://0.0.0.0:5555`, or
    /// `tcp://127.0.0.1:*` for a port the OS picks). Sends to unknown peers
    /// fail (ROUTER_MANDATORY). Returns the socket and the bound endpoint.
    public static func coordinator(context: ZeroMQContext, bind endpoint: String,
                                   settings: ClusterSocketSettings = ClusterSocketSettings(),
                                   security: CoordinatorSecurity) throws(ClusterTransportError) -> (ZeroMQSocket, String) {
        if case let .curve(_, authenticator) = security {
            guard authenticator.context === context else { throw .authenticatorInOtherContext }
            guard authenticator.isRunning else { throw .authenticatorNotRunning }
        }
        do {
            let socket = try ZeroMQSocket(context: context, type: .router, linger: settings.linger)
            try socket.set(settings.commonOptions + [.routerMandatory(true), .zapDomain(zapDomain)])
            if case let .curve(keyPair, _) = security {
                try socket.set(.curveServer(secretKey: keyPair.secretKey))
            }
            socket.maxFramesPerMessage = settings.limits.maxFrames
            socket.maxBytesPerMessage = settings.limits.maxMessageBytes
            return (socket, try socket.bind(endpoint))
        } catch {
            throw .zeroMQ(error)
        }
    }

    /// A DEALER connected to the coordinator at `endpoint`, presenting
    /// `routingID` (stable across reconnects, so the coordinator knows the
    /// worker again). Messages queue only to completed connections
    /// (ZMQ_IMMEDIATE).
    public static func worker(context: ZeroMQContext, connect endpoint: String, routingID: [UInt8],
                              settings: ClusterSocketSettings = ClusterSocketSettings(),
                              security: WorkerSecurity) throws(ClusterTransportError) -> ZeroMQSocket {
        do {
            let socket = try ZeroMQSocket(context: context, type: .dealer, linger: settings.linger)
            try socket.set(settings.commonOptions + [
                .immediate(true), .routingID(routingID),
                .reconnectInterval(settings.reconnectInterval, maximum: settings.reconnectIntervalMaximum),
            ])
            if case let .curve(keyPair, serverKey) = security {
                try socket.set(.curveClient(serverKey: serverKey, keyPair: keyPair))
            }
            socket.maxFramesPerMessage = settings.limits.maxFrames
            socket.maxBytesPerMessage = settings.limits.maxMessageBytes
            try socket.connect(endpoint)
            return socket
        } catch {
            throw .zeroMQ(error)
        }
    }
}
