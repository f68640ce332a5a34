import CZeroMQ
import Synchronization

/// One event reported by a socket monitor (connection made, dropped,
/// handshake failed, ...), for logging disconnects and refused peers.
public struct ZeroMQMonitorEvent: Sendable, CustomStringConvertible {
    /// The kinds of monitor events (libzmq's ZMQ_EVENT_* bits).
    public struct Kind: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        public static let connected = Kind(rawValue: UInt32(ZMQ_EVENT_CONNECTED))
        public static let connectDelayed = Kind(rawValue: UInt32(ZMQ_EVENT_CONNECT_DELAYED))
        public static let connectRetried = Kind(rawValue: UInt32(ZMQ_EVENT_CONNECT_RETRIED))
        public static let listening = Kind(rawValue: UInt32(ZMQ_EVENT_LISTENING))
        public static let bindFailed = Kind(rawValue: UInt32(ZMQ_EVENT_BIND_FAILED))
        public static let accepted = Kind(rawValue: UInt32(ZMQ_EVENT_ACCEPTED))
        public static let acceptFailed = Kind(rawValue: UInt32(ZMQ_EVENT_ACCEPT_FAILED))
        public static let closed = Kind(rawValue: UInt32(ZMQ_EVENT_CLOSED))
        public static let closeFailed = Kind(rawValue: UInt32(ZMQ_EVENT_CLOSE_FAILED))
        public static let disconnected = Kind(rawValue: UInt32(ZMQ_EVENT_DISCONNECTED))
        public static let monitorStopped = Kind(rawValue: UInt32(ZMQ_EVENT_MONITOR_STOPPED))
        public static let handshakeFailedNoDetail = Kind(rawValue: UInt32(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL))
        public static let handshakeSucceeded = Kind(rawValue: UInt32(ZMQ_EVENT_HANDSHAKE_SUCCEEDED))
        public static let handshakeFailedProtocol = Kind(rawValue: UInt32(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL))
        public static let handshakeFailedAuth = Kind(rawValue: UInt32(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH))
        /// Every handshake failure.
        public static let handshakeFailed: Kind = [.handshakeFailedNoDetail, .handshakeFailedProtocol, .handshakeFailedAuth]
        /// Every event.
        public static let all = Kind(rawValue: UInt32(ZMQ_EVENT_ALL))

        /// A short name for logs.
        public var name: String {
            let names: [(Kind, String)] = [
                (.connected, "connected"), (.connectDelayed, "connect-delayed"), (.connectRetried, "connect-retried"),
                (.listening, "listening"), (.bindFailed, "bind-failed"), (.accepted, "accepted"),
                (.acceptFailed, "accept-failed"), (.closed, "closed"), (.closeFailed, "close-failed"),
                (.disconnected, "disconnected"), (.monitorStopped, "monitor-stopped"),
                (.handshakeFailedNoDetail, "handshake-failed"), (.handshakeSucceeded, "handshake-succeeded"),
                (.handshakeFailedProtocol, "handshake-failed-protocol"), (.handshakeFailedAuth, "handshake-failed-auth"),
            ]
            let matching = names.filter { contains($0.0) }.map(\.1)
            return matching.isEmpty ? "event-\(rawValue)" : matching.joined(separator: ",")
        }
    }

    /// What happened.
    public let kind: Kind
    /// The event's value: a file descriptor, an errno, a retry interval or a
    /// ZMTP/ZAP status code depending on the kind.
    public let value: UInt32
    /// The endpoint involved (the peer's address for accepted connections).
    public let endpoint: String

    public var description: String { "\(kind.name) \(endpoint) (\(value))" }
}

/// Reads the events a socket reports about its connections. Like a socket,
/// a monitor is used by one thread.
public final class ZeroMQMonitor {
    /// The PAIR socket connected to libzmq's monitor endpoint.
    private let pair: ZeroMQSocket
    /// The inproc endpoint the events are published on.
    public let endpoint: String

    /// Distinguishes the inproc endpoints of monitors in one process.
    private static let counter = Atomic<Int>(0)

    fileprivate init(watching socket: ZeroMQSocket, events: ZeroMQMonitorEvent.Kind) throws(ZeroMQError) {
        let number = Self.counter.wrappingAdd(1, ordering: .relaxed).newValue
        endpoint = "inproc://conaclip.monitor.\(number)"
        let handle = try socket.open("monitor")
        guard zmq_socket_monitor(handle, endpoint, Int32(bitPattern: events.rawValue)) == 0 else {
            throw ZeroMQError.last("zmq_socket_monitor")
        }
        pair = try ZeroMQSocket(context: socket.context, type: .pair, linger: .zero)
        try pair.connect(endpoint)
    }

    /// The next event, waiting at most `timeout`; nil if none arrived.
    public func next(timeout: Duration) throws(ZeroMQError) -> ZeroMQMonitorEvent? {
        guard let frames = try pair.receive(timeout: timeout) else { return nil }
        guard frames.count == 2, frames[0].count == 6 else {
            throw .invalidArgument("unexpected monitor message (\(frames.count) frames)")
        }
        let head = frames[0].bytes
        let kind = UInt32(head[0]) | UInt32(head[1]) << 8
        let value = UInt32(head[2]) | UInt32(head[3]) << 8 | UInt32(head[4]) << 16 | UInt32(head[5]) << 24
        return ZeroMQMonitorEvent(kind: .init(rawValue: kind), value: value,
                                  endpoint: String(decoding: frames[1].bytes, as: UTF8.self))
    }

    /// Waits at most `timeout` for an event of one of `kinds`, skipping others.
    public func waitFor(_ kinds: ZeroMQMonitorEvent.Kind, timeout: Duration) throws(ZeroMQError) -> ZeroMQMonitorEvent? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero, let event = try next(timeout: remaining) else { return nil }
            if !event.kind.intersection(kinds).isEmpty { return event }
        }
    }
}

extension ZeroMQSocket {
    /// Starts reporting `events` of this socket to a new monitor.
    public func monitor(_ events: ZeroMQMonitorEvent.Kind = .all) throws(ZeroMQError) -> ZeroMQMonitor {
        try ZeroMQMonitor(watching: self, events: events)
    }
}
