import CZeroMQ

/// The kinds of socket conaclip uses.
public enum ZeroMQSocketType: Sendable {
    /// Addressed, many peers (the coordinator). Received messages start with
    /// the sender's routing id; sent messages start with the recipient's.
    case router
    /// Unaddressed, asynchronous (a worker).
    case dealer
    /// Exactly one peer (in-process signalling, monitors).
    case pair
    /// Strict request-reply server (the ZAP handler).
    case rep
    /// Strict request-reply client.
    case req

    var rawValue: Int32 {
        switch self {
        case .router: return ZMQ_ROUTER
        case .dealer: return ZMQ_DEALER
        case .pair: return ZMQ_PAIR
        case .rep: return ZMQ_REP
        case .req: return ZMQ_REQ
        }
    }
}

/// A socket option conaclip sets. Durations are rounded up to milliseconds.
public enum ZeroMQSocketOption: Sendable {
    /// ROUTER: fail a send to an unknown peer with `EHOSTUNREACH` (and a send
    /// to a full peer with `EAGAIN`) instead of dropping it silently.
    case routerMandatory(Bool)
    /// How long unsent messages are kept when the socket closes (finite).
    case linger(Duration)
    /// The largest inbound frame accepted; a peer sending a larger one is
    /// disconnected. `nil` means no limit.
    case maxMessageSize(bytes: Int?)
    /// Connecting sockets: queue messages only to completed connections.
    case immediate(Bool)
    /// Messages queued per peer before sends block (0 means no limit).
    case sendHighWaterMark(Int)
    /// Messages queued per peer on receive (0 means no limit).
    case receiveHighWaterMark(Int)
    /// The routing id this socket presents to a ROUTER (1-255 bytes, not starting with 0).
    case routingID([UInt8])
    /// ZMTP heartbeats: send a PING every `interval`, drop the connection if
    /// nothing arrives within `timeout`; `ttl` asks the peer to drop it if
    /// it hears nothing from us for that long.
    case heartbeat(interval: Duration, timeout: Duration, ttl: Duration)
    /// First and maximum reconnect delay after a connection drops (the delay
    /// doubles up to `maximum`; `nil` keeps it constant).
    case reconnectInterval(Duration, maximum: Duration?)
    /// How long a connection may take to finish its security handshake.
    case handshakeInterval(Duration)
    /// Be a CURVE server with this secret key (clients must know its public key).
    case curveServer(secretKey: ZeroMQCurveKey)
    /// Be a CURVE client of the server with `serverKey`, using this key pair.
    case curveClient(serverKey: ZeroMQCurveKey, keyPair: ZeroMQCurveKeyPair)
    /// The ZAP domain sent to the authentication handler.
    case zapDomain(String)
}
