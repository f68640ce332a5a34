import CZeroMQ


/// A ZeroMQ socket with bounded sends and receives.
///
/// Thread-safety: like every libzmq socket, a `ZeroMQSocket` must be used by
/// one thread at a time, so the type is deliberately not `Sendable`: create
/// it on the thread that uses it (a network thread owns its sockets and
/// exchanges work with other threads through queues or `inproc://` pairs).
/// Received `ZeroMQFrame`s and `ZeroMQSharedBytes` are `Sendable` and may
/// cross threads freely.
///
/// Nothing here blocks without a bound: every send and receive takes a
/// timeout, and sockets are created with a finite linger.
public final class ZeroMQSocket {
    /// The socket's kind.
    public let type: ZeroMQSocketType
    /// The context the socket belongs to (kept alive by the socket).
    public let context: ZeroMQContext
    /// The libzmq handle; nil once closed or after a half-sent message.
    private(set) var handle: UnsafeMutableRawPointer?
    /// Why the socket can no longer be used, if it cannot.
    private var unusableReason: String?
    /// The send timeout currently set on the socket (ZMQ_SNDTIMEO), cached.
    private var currentSendTimeout: Int32 = -1

    /// Receives refuse messages with more frames than this (the rest of such
    /// a message is drained and discarded).
    public var maxFramesPerMessage = 1 << 16
    /// Receives refuse messages with more bytes than this over all frames.
    public var maxBytesPerMessage = Int.max

    /// Creates a socket of `type` in `context` with a finite `linger`.
    public init(context: ZeroMQContext, type: ZeroMQSocketType, linger: Duration = .milliseconds(500)) throws(ZeroMQError) {
        guard let handle = zmq_socket(context.handle, type.rawValue) else {
            throw ZeroMQError.last("zmq_socket")
        }
        self.type = type
        self.context = context
        self.handle = handle
        do {
            try set(.linger(linger))
        } catch {
            zmq_close(handle)
            self.handle = nil
            throw error
        }
    }

    deinit {
        if let handle { zmq_close(handle) }
    }

    /// Closes the socket now (queued messages are kept for the linger time).
    public func close() {
        if let handle { zmq_close(handle) }
        handle = nil
        unusableReason = "closed"
    }

    /// Whether the socket is open and usable.
    public var isOpen: Bool { handle != nil }

    /// The handle, or `.closed` if the socket is no longer usable.
    func open(_ operation: String) throws(ZeroMQError) -> UnsafeMutableRawPointer {
        guard let handle else { throw .closed(operation: "\(operation) (\(unusableReason ?? "closed"))") }
        return handle
    }

    // MARK: Options

    /// Sets one option.
    public func set(_ option: ZeroMQSocketOption) throws(ZeroMQError) {
        switch option {
        case let .routerMandatory(on):
            try setInt(ZMQ_ROUTER_MANDATORY, on ? 1 : 0, "ZMQ_ROUTER_MANDATORY")
        case let .linger(duration):
            try setInt(ZMQ_LINGER, Int32(zeroMQMilliseconds(duration)), "ZMQ_LINGER")
        case let .maxMessageSize(bytes):
            guard bytes.map({ $0 >= 0 }) ?? true else { throw .invalidArgument("maximum message size must be non-negative") }
            var value = Int64(bytes ?? -1)
            try setRaw(ZMQ_MAXMSGSIZE, &value, MemoryLayout<Int64>.size, "ZMQ_MAXMSGSIZE")
        case let .immediate(on):
            try setInt(ZMQ_IMMEDIATE, on ? 1 : 0, "ZMQ_IMMEDIATE")
        case let .sendHighWaterMark(count):
            try setInt(ZMQ_SNDHWM, Int32(clamping: max(0, count)), "ZMQ_SNDHWM")
        case let .receiveHighWaterMark(count):
            try setInt(ZMQ_RCVHWM, Int32(clamping: max(0, count)), "ZMQ_RCVHWM")
        case let .routingID(id):
            guard (1...255).contains(id.count), id.first != 0 else {
                throw .invalidArgument("a routing id has 1 to 255 bytes and does not start with a zero byte")
            }
            var id = id
            try setRaw(ZMQ_ROUTING_ID, &id, id.count, "ZMQ_ROUTING_ID")
        case let .heartbeat(interval, timeout, ttl):
            try setInt(ZMQ_HEARTBEAT_IVL, Int32(zeroMQMilliseconds(interval)), "ZMQ_HEARTBEAT_IVL")
            try setInt(ZMQ_HEARTBEAT_TIMEOUT, Int32(zeroMQMilliseconds(timeout)), "ZMQ_HEARTBEAT_TIMEOUT")
            // The TTL travels in the PING in tenths of a second, at most 6553.5 s.
            try setInt(ZMQ_HEARTBEAT_TTL, Int32(min(zeroMQMilliseconds(ttl), 6_553_500)), "ZMQ_HEARTBEAT_TTL")
        case let .reconnectInterval(first, maximum):
            try setInt(ZMQ_RECONNECT_IVL, Int32(zeroMQMilliseconds(first)), "ZMQ_RECONNECT_IVL")
            try setInt(ZMQ_RECONNECT_IVL_MAX, Int32(maximum.map(zeroMQMilliseconds) ?? 0), "ZMQ_RECONNECT_IVL_MAX")
        case let .handshakeInterval(duration):
            try setInt(ZMQ_HANDSHAKE_IVL, Int32(zeroMQMilliseconds(duration)), "ZMQ_HANDSHAKE_IVL")
        case let .curveServer(secretKey):
            try setInt(ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER")
            var key = secretKey.bytes
            try setRaw(ZMQ_CURVE_SECRETKEY, &key, 32, "ZMQ_CURVE_SECRETKEY")
        case let .curveClient(serverKey, keyPair):
            var server = serverKey.bytes, publicKey = keyPair.publicKey.bytes, secret = keyPair.secretKey.bytes
            try setRaw(ZMQ_CURVE_SERVERKEY, &server, 32, "ZMQ_CURVE_SERVERKEY")
            try setRaw(ZMQ_CURVE_PUBLICKEY, &publicKey, 32, "ZMQ_CURVE_PUBLICKEY")
            try setRaw(ZMQ_CURVE_SECRETKEY, &secret, 32, "ZMQ_CURVE_SECRETKEY")
        case let .zapDomain(domain):
            var bytes = Array(domain.utf8)
            guard bytes.count <= 254 else { throw .invalidArgument("a ZAP domain has at most 254 bytes") }
            try setRaw(ZMQ_ZAP_DOMAIN, &bytes, bytes.count, "ZMQ_ZAP_DOMAIN")
        }
    }

    /// Sets several options in order.
    public func set(_ options: [ZeroMQSocketOption]) throws(ZeroMQError) {
        for option in options { try set(option) }
    }

    private func setInt(_ name: Int32, _ value: Int32, _ label: String) throws(ZeroMQError) {
        var value = value
        try setRaw(name, &value, MemoryLayout<Int32>.size, label)
    }

    private func setRaw(_ name: Int32, _ value: UnsafeRawPointer, _ size: Int, _ label: String) throws(ZeroMQError) {
        let handle = try open("setsockopt(\(label))")
        guard zmq_setsockopt(handle, name, value, size) == 0 else {
            throw ZeroMQError.last("zmq_setsockopt(\(label))")
        }
    }

    /// The endpoint the socket last bound or connected to, with any `*`
    /// port resolved to the port the OS chose (ZMQ_LAST_ENDPOINT).
    public func lastEndpoint() throws(ZeroMQError) -> String {
        let handle = try open("getsockopt(ZMQ_LAST_ENDPOINT)")
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else {
            throw ZeroMQError.last("zmq_getsockopt(ZMQ_LAST_ENDPOINT)")
        }
        buffer[buffer.count - 1] = 0
        return zeroMQString(buffer)
    }

    // MARK: Endpoints

    /// Binds to `endpoint` (e.g. `tcp://127.0.0.1:*`) and returns the bound
    /// endpoint with the chosen port.
    @discardableResult
    public func bind(_ endpoint: String) throws(ZeroMQError) -> String {
        let handle = try open("bind")
        guard zmq_bind(handle, endpoint) == 0 else { throw ZeroMQError.last("zmq_bind(\(endpoint))") }
        return try lastEndpoint()
    }

    /// Connects to `endpoint`; the connection is made (and remade) in the background.
    public func connect(_ endpoint: String) throws(ZeroMQError) {
        let handle = try open("connect")
        guard zmq_connect(handle, endpoint) == 0 else { throw ZeroMQError.last("zmq_connect(\(endpoint))") }
    }

    /// Stops listening on a bound endpoint (pass the endpoint `bind` returned).
    public func unbind(_ endpoint: String) throws(ZeroMQError) {
        let handle = try open("unbind")
        guard zmq_unbind(handle, endpoint) == 0 else { throw ZeroMQError.last("zmq_unbind(\(endpoint))") }
    }

    /// Drops a connection made with `connect`.
    public func disconnect(_ endpoint: String) throws(ZeroMQError) {
        let handle = try open("disconnect")
        guard zmq_disconnect(handle, endpoint) == 0 else { throw ZeroMQError.last("zmq_disconnect(\(endpoint))") }
    }

    // MARK: Sending and receiving

    /// Sends a multipart message, waiting at most `timeout` for room in the
    /// queue. A ROUTER's message starts with the recipient's routing id; with
    /// `routerMandatory` an unknown recipient fails with `EHOSTUNREACH`.
    ///
    /// The message is atomic: either every frame is queued or none is. If a
    /// failure happens after the first frame (only possible when the context
    /// is terminated) the socket is closed, so a half message can never run
    /// into the next one.
    public func send(_ message: ZeroMQOutgoingMessage, timeout: Duration) throws(ZeroMQError) {
        let handle = try open("send")
        guard !message.parts.isEmpty else { throw .invalidArgument("a message has at least one frame") }
        let milliseconds = Int32(zeroMQMilliseconds(timeout))
        if milliseconds != currentSendTimeout {
            try setInt(ZMQ_SNDTIMEO, milliseconds, "ZMQ_SNDTIMEO")
            currentSendTimeout = milliseconds
        }
        let frame = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
        frame.initialize(to: zmq_msg_t())
        defer { frame.deallocate() }
        let last = message.parts.count - 1
        for (index, part) in message.parts.enumerated() {
            try part.initialize(frame)
            let flags = index < last ? ZMQ_SNDMORE : 0
            while zmq_msg_send(frame, handle, flags) < 0 {
                let code = zmq_errno()
                if code == EINTR { continue }
                zmq_msg_close(frame)
                if index > 0 {
                    close()
                    unusableReason = "a multipart send failed after its first frame"
                    throw .failed(operation: "zmq_msg_send (frame \(index + 1) of \(last + 1))", errno: code)
                }
                if code == EAGAIN { throw .timedOut(operation: "send", milliseconds: Int(milliseconds)) }
                throw .failed(operation: "zmq_msg_send", errno: code)
            }
        }
    }

    /// Sends frames copied from `frames`.
    public func send(frames: [[UInt8]], timeout: Duration) throws(ZeroMQError) {
        try send(ZeroMQOutgoingMessage(parts: frames.map { .bytes($0) }), timeout: timeout)
    }

    /// Receives one whole multipart message, waiting at most `timeout`;
    /// returns nil if none arrived in time. A ROUTER's message starts with
    /// the sender's routing id. Messages over `maxFramesPerMessage` or
    /// `maxBytesPerMessage` are discarded with `.limitExceeded`.
    public func receive(timeout: Duration) throws(ZeroMQError) -> [ZeroMQFrame]? {
        let handle = try open("receive")
        let deadline = ContinuousClock.now + timeout
        while true {
            let first = ZeroMQFrame()
            if zmq_msg_recv(first.message, handle, ZMQ_DONTWAIT) >= 0 {
                return try receiveRest(after: first, handle: handle)
            }
            let code = zmq_errno()
            if code == EINTR { continue }
            guard code == EAGAIN else { throw .failed(operation: "zmq_msg_recv", errno: code) }
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero { return nil }
            _ = try ZeroMQPoller.wait(handle: handle, events: Int16(ZMQ_POLLIN), milliseconds: zeroMQMilliseconds(remaining))
        }
    }

    /// Receives the remaining frames of a message whose first frame arrived.
    private func receiveRest(after first: ZeroMQFrame, handle: UnsafeMutableRawPointer) throws(ZeroMQError) -> [ZeroMQFrame] {
        var frames = [first]
        var bytes = first.count
        var more = zmq_msg_more(first.message) != 0
        var exceeded: ZeroMQError? = bytes > maxBytesPerMessage
            ? .limitExceeded(what: "bytes per message", limit: maxBytesPerMessage, actual: bytes) : nil
        while more {
            let frame = ZeroMQFrame()
            // The frames of a message arrive together, so these never wait.
            while zmq_msg_recv(frame.message, handle, ZMQ_DONTWAIT) < 0 {
                let code = zmq_errno()
                if code == EINTR { continue }
                throw .failed(operation: "zmq_msg_recv (frame \(frames.count + 1))", errno: code)
            }
            more = zmq_msg_more(frame.message) != 0
            bytes += frame.count
            if exceeded != nil { continue }
            if frames.count + 1 > maxFramesPerMessage {
                exceeded = .limitExceeded(what: "frames per message", limit: maxFramesPerMessage, actual: frames.count + 1)
                frames.removeAll()
            } else if bytes > maxBytesPerMessage {
                exceeded = .limitExceeded(what: "bytes per message", limit: maxBytesPerMessage, actual: bytes)
                frames.removeAll()
            } else {
                frames.append(frame)
            }
        }
        if let exceeded { throw exceeded }
        return frames
    }
}
