import Dispatch
import Foundation
import Logging
import Synchronization

/// The ZAP handler (ZeroMQ RFC 27) of a context: a thread serving
/// `inproc://zeromq.zap.01` that admits only CURVE clients whose public key
/// is on the allow-list, logs every refusal with its reason, and answers
/// every request so no handshake is left hanging.
///
/// Start it BEFORE binding any CURVE server socket in the same context:
/// libzmq 4.3 admits every CURVE client when no handler is bound.
/// `ClusterSockets.coordinator` takes the authenticator as an argument so
/// this order cannot be forgotten.
public final class ZAPAuthenticator: Sendable {
    /// The endpoint libzmq sends authentication requests to.
    public static let endpoint = "inproc://zeromq.zap.01"

    /// The context whose connections this handler authenticates.
    public let context: ZeroMQContext
    private let state: State

    /// Handshakes admitted so far.
    public var acceptedCount: Int { state.accepted.load(ordering: .relaxed) }
    /// Handshakes refused so far.
    public var refusedCount: Int { state.refused.load(ordering: .relaxed) }
    /// Whether the handler thread is serving requests.
    public var isRunning: Bool { !state.stopped.load(ordering: .acquiring) }

    /// How the handler thread's bind went.
    private final class StartResult: Sendable {
        let value = Mutex<Result<Void, ZeroMQError>?>(nil)
    }

    /// Shared between the owner and the handler thread.
    private final class State: Sendable {
        let allowList: Mutex<CurveAllowList>
        let domain: String?
        let logger: Logger
        let refusalLogInterval: Duration
        let stopRequested = Atomic<Bool>(false)
        let stopped = Atomic<Bool>(false)
        let accepted = Atomic<Int>(0)
        let refused = Atomic<Int>(0)
        let exited = DispatchSemaphore(value: 0)
        /// When each refused key was last logged, and refusals since (to keep a reconnecting peer from flooding the log).
        let recentRefusals = Mutex<[String: (logged: ContinuousClock.Instant, suppressed: Int)]>([:])

        init(allowList: CurveAllowList, domain: String?, logger: Logger, refusalLogInterval: Duration) {
            self.allowList = Mutex(allowList)
            self.domain = domain
            self.logger = logger
            self.refusalLogInterval = refusalLogInterval
        }
    }

    /// Starts the handler on `context` and returns once it is bound.
    ///
    /// - Parameters:
    ///   - allowList: the client keys admitted.
    ///   - domain: if set, requests for other ZAP domains are refused.
    ///   - logger: receives one warning per refused peer (repeats of the same
    ///     key within `refusalLogInterval` are counted, not logged).
    public init(context: ZeroMQContext, allowList: CurveAllowList, domain: String? = nil, logger: Logger,
                refusalLogInterval: Duration = .seconds(10)) throws(SecurityError) {
        self.context = context
        let state = State(allowList: allowList, domain: domain, logger: logger, refusalLogInterval: refusalLogInterval)
        self.state = state
        let bound = StartResult()
        let ready = DispatchSemaphore(value: 0)
        let thread = Thread {
            Self.serve(context: context, state: state, bound: bound, ready: ready)
        }
        thread.name = "conaclip-zap"
        thread.start()
        guard ready.wait(timeout: .now() + 10) == .success else {
            state.stopRequested.store(true, ordering: .releasing)
            throw .authenticatorFailed("the handler thread did not start within 10 s")
        }
        if case let .failure(error)? = bound.value.withLock({ $0 }) {
            throw .authenticatorFailed(error.isAddressInUse
                ? "another ZAP handler is already bound in this context" : error.description)
        }
        logger.info("CURVE authenticator started", metadata: ["allowed-keys": "\(allowList.count)"])
    }

    deinit { stop() }

    /// Replaces the allow-list (for example after the file changed). Takes
    /// effect for the next handshake.
    public func update(allowList: CurveAllowList) {
        state.allowList.withLock { $0 = allowList }
        state.logger.info("CURVE allow-list replaced", metadata: ["allowed-keys": "\(allowList.count)"])
    }

    /// Stops the handler and waits (at most `timeout`) for its thread to
    /// exit. After this, new CURVE handshakes in the context are no longer
    /// checked, so close the server sockets first. Safe to call twice.
    @discardableResult
    public func stop(timeout: Duration = .seconds(5)) -> Bool {
        if state.stopped.load(ordering: .acquiring) { return true }
        state.stopRequested.store(true, ordering: .releasing)
        let seconds = Double(zeroMQWholeMilliseconds(timeout)) / 1000
        guard state.exited.wait(timeout: .now() + seconds) == .success else { return false }
        state.exited.signal()  // later calls see it too
        return true
    }

    /// The handler thread's body.
    private static func serve(context: ZeroMQContext, state: State, bound: StartResult,
                              ready: DispatchSemaphore) {
        defer {
            state.stopped.store(true, ordering: .releasing)
            state.exited.signal()
        }
        let socket: ZeroMQSocket
        do {
            // A ROUTER, not a REP: no lock-step state to get stuck in.
            socket = try ZeroMQSocket(context: context, type: .router, linger: .zero)
            socket.maxFramesPerMessage = 32
            socket.maxBytesPerMessage = 1 << 16
            try socket.bind(endpoint)
            bound.value.withLock { $0 = .success(()) }
            ready.signal()
        } catch {
            bound.value.withLock { $0 = .failure(error) }
            ready.signal()
            return
        }
        defer { socket.close() }
        while !state.stopRequested.load(ordering: .acquiring) {
            let frames: [ZeroMQFrame]
            do {
                guard let received = try socket.receive(timeout: .milliseconds(100)) else { continue }
                frames = received
            } catch {
                if error.isContextTerminated { return }
                state.logger.error("ZAP handler receive failed", metadata: ["error": "\(error)"])
                continue
            }
            let reply = answer(frames.map(\.bytes), state: state)
            do {
                try socket.send(frames: reply, timeout: .seconds(1))
            } catch {
                if error.isContextTerminated { return }
                state.logger.error("ZAP handler could not answer", metadata: ["error": "\(error)"])
            }
        }
    }

    /// The reply frames (routing id, delimiter, then the ZAP reply) to one request.
    private static func answer(_ frames: [[UInt8]], state: State) -> [[UInt8]] {
        // [routing id][empty delimiter][version][request id][domain][address][identity][mechanism][credentials...]
        guard frames.count >= 2 else { return [] }
        let envelope = Array(frames[0...1])
        let request = Array(frames.dropFirst(2))
        let requestID = request.count > 1 ? request[1] : []
        func reply(_ code: String, _ text: String, user: String = "") -> [[UInt8]] {
            envelope + [Array("1.0".utf8), requestID, Array(code.utf8), Array(text.utf8), Array(user.utf8), []]
        }
        guard request.count >= 6, request[0] == Array("1.0".utf8) else {
            state.refused.add(1, ordering: .relaxed)
            state.logger.warning("refused peer: malformed ZAP request", metadata: ["frames": "\(request.count)"])
            return reply("500", "malformed ZAP request")
        }
        let domain = String(decoding: request[2], as: UTF8.self)
        let address = String(decoding: request[3], as: UTF8.self)
        let mechanism = String(decoding: request[5], as: UTF8.self)
        func refuse(_ reason: String, key: String) -> [[UInt8]] {
            state.refused.add(1, ordering: .relaxed)
            logRefusal(reason: reason, key: key, address: address, domain: domain, mechanism: mechanism, state: state)
            return reply("400", reason)
        }
        if let required = state.domain, domain != required {
            return refuse("ZAP domain \"\(domain)\" is not \"\(required)\"", key: "-")
        }
        guard mechanism == "CURVE" else {
            return refuse("mechanism \(mechanism) is not allowed: this cluster requires CURVE", key: "-")
        }
        guard request.count == 7, let key = try? ZeroMQCurveKey(bytes: request[6]) else {
            return refuse("CURVE request without a 32-byte client key", key: "-")
        }
        guard let name = state.allowList.withLock({ $0.name(of: key) }) else {
            return refuse("public key is not on the allow-list", key: key.z85)
        }
        state.accepted.add(1, ordering: .relaxed)
        state.logger.debug("admitted CURVE peer", metadata: ["peer": "\(name)", "address": "\(address)"])
        return reply("200", "OK", user: name)
    }

    private static func logRefusal(reason: String, key: String, address: String, domain: String, mechanism: String, state: State) {
        let now = ContinuousClock.now
        let suppressed: Int? = state.recentRefusals.withLock { recent in
            if let entry = recent[key], now - entry.logged < state.refusalLogInterval {
                recent[key] = (entry.logged, entry.suppressed + 1)
                return nil
            }
            let previous = recent[key]?.suppressed ?? 0
            if recent.count >= 1024 { recent.removeAll() }
            recent[key] = (now, 0)
            return previous
        }
        guard let suppressed else { return }
        var metadata: Logger.Metadata = [
            "reason": "\(reason)", "key": "\(key)", "address": "\(address)", "mechanism": "\(mechanism)", "domain": "\(domain)",
        ]
        if suppressed > 0 { metadata["repeats-not-logged"] = "\(suppressed)" }
        state.logger.warning("refused peer", metadata: metadata)
    }
}

extension ZeroMQError {
    /// A bind failed because the endpoint is taken.
    var isAddressInUse: Bool { errno == EADDRINUSE }
}

/// Whole milliseconds of a duration (negative counts as zero).
func zeroMQWholeMilliseconds(_ duration: Duration) -> Int {
    let (seconds, attoseconds) = duration.components
    guard seconds >= 0 else { return 0 }
    return Int(clamping: seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
}
