import CZeroMQ

/// One received message frame, holding libzmq's buffer without copying it.
///
/// A frame is immutable once received, so it may be handed to another
/// thread. Its bytes stay valid for the frame's lifetime.
public final class ZeroMQFrame: @unchecked Sendable {
    /// The owned `zmq_msg_t` (heap-allocated so its address is stable).
    let message: UnsafeMutablePointer<zmq_msg_t>

    /// An empty, initialised message ready for `zmq_msg_recv`.
    init() {
        message = .allocate(capacity: 1)
        message.initialize(to: zmq_msg_t())
        zmq_msg_init(message)
    }

    /// A frame holding a copy of `bytes` (used to build test inputs and to
    /// decode messages that did not come from a socket).
    public convenience init(bytes: some Collection<UInt8>) {
        self.init()
        zmq_msg_close(message)
        // zmq_msg_init_size fails only when malloc fails.
        if zmq_msg_init_size(message, bytes.count) != 0 {
            zmq_msg_init(message)
            return
        }
        let destination = UnsafeMutableRawBufferPointer(start: zmq_msg_data(message), count: bytes.count)
        destination.copyBytes(from: bytes)
    }

    deinit {
        zmq_msg_close(message)
        message.deallocate()
    }

    /// Number of bytes in the frame.
    public var count: Int { zmq_msg_size(message) }

    /// Calls `body` with the frame's bytes (valid only inside `body`).
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: zmq_msg_data(message), count: zmq_msg_size(message)))
    }

    /// A copy of the frame's bytes.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}

/// Immutable bytes that can be sent zero-copy, to one peer or to many.
///
/// libzmq keeps a reference while the bytes are queued and releases it from
/// its I/O thread when they are on the wire, so the same buffer (for example
/// a weights snapshot broadcast to every worker) is never copied per send.
/// The contents are written once, in the initialiser, and never change.
public final class ZeroMQSharedBytes: @unchecked Sendable {
    /// Number of bytes.
    public let count: Int
    /// Start of the storage (64-byte aligned).
    let base: UnsafeMutableRawPointer

    /// Allocates `count` bytes and lets `fill` write them, once.
    public init<E: Error>(count: Int, fill: (UnsafeMutableRawBufferPointer) throws(E) -> Void) throws(E) {
        precondition(count >= 0, "ZeroMQSharedBytes count must be non-negative")
        self.count = count
        base = .allocate(byteCount: max(count, 1), alignment: 64)
        // If `fill` throws, the object is fully initialised, so deinit frees the storage.
        try fill(UnsafeMutableRawBufferPointer(start: base, count: count))
    }

    /// A copy of `bytes`.
    public convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(count: bytes.count) { (destination: UnsafeMutableRawBufferPointer) in
            destination.copyMemory(from: bytes)
        }
    }

    deinit { base.deallocate() }

    /// Refills `buffer` in place if it has `count` bytes and nothing else
    /// holds it (every send over it has been released by libzmq), or
    /// allocates a new buffer into `buffer` otherwise; returns it, filled.
    ///
    /// For messages sent every step (gradients, embeddings): reusing the
    /// buffer avoids allocating and page-faulting megabytes per step. The
    /// caller must not keep other references to a buffer it wants reused.
    public static func reuse<E: Error>(_ buffer: inout ZeroMQSharedBytes?, count: Int,
                                       fill: (UnsafeMutableRawBufferPointer) throws(E) -> Void) throws(E) -> ZeroMQSharedBytes {
        if buffer?.count == count, isKnownUniquelyReferenced(&buffer), let reusable = buffer {
            try fill(UnsafeMutableRawBufferPointer(start: reusable.base, count: count))
            return reusable
        }
        let fresh = try ZeroMQSharedBytes(count: count, fill: fill)
        buffer = fresh
        return fresh
    }

    /// Calls `body` with the bytes (read-only).
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }
}

/// A multipart message to send: small parts are copied at send time, shared
/// parts are sent zero-copy. Build it once and send it to as many peers as
/// needed; for a ROUTER the first part is the peer's routing id.
public struct ZeroMQOutgoingMessage: Sendable {
    /// One frame of the message.
    public enum Part: Sendable {
        /// Bytes copied into the frame when it is sent.
        case bytes([UInt8])
        /// A range of shared bytes, sent without copying.
        case shared(ZeroMQSharedBytes, Range<Int>)

        /// Number of bytes in this part.
        public var count: Int {
            switch self {
            case let .bytes(bytes): return bytes.count
            case let .shared(_, range): return range.count
            }
        }
    }

    /// The frames, in order.
    public var parts: [Part]

    /// A message made of `parts`.
    public init(parts: [Part] = []) { self.parts = parts }

    /// Appends a frame holding a copy of `bytes`.
    public mutating func append(_ bytes: [UInt8]) { parts.append(.bytes(bytes)) }

    /// Appends a zero-copy frame over `range` of `shared` (all of it by default).
    public mutating func append(_ shared: ZeroMQSharedBytes, range: Range<Int>? = nil) {
        let range = range ?? 0..<shared.count
        precondition(range.lowerBound >= 0 && range.upperBound <= shared.count, "range outside the shared bytes")
        parts.append(.shared(shared, range))
    }

    /// This message with `routingID` as its first frame (what a ROUTER sends).
    public func addressed(to routingID: [UInt8]) -> ZeroMQOutgoingMessage {
        ZeroMQOutgoingMessage(parts: [.bytes(routingID)] + parts)
    }

    /// Total bytes over all frames.
    public var byteCount: Int { parts.reduce(0) { $0 + $1.count } }
}

/// Releases the `ZeroMQSharedBytes` retained for a zero-copy frame; libzmq
/// calls it (from its I/O thread) once the frame is no longer needed.
private let releaseSharedBytes: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = { _, hint in
    guard let hint else { return }
    Unmanaged<ZeroMQSharedBytes>.fromOpaque(hint).release()
}

extension ZeroMQOutgoingMessage.Part {
    /// Initialises `message` with this part: a copy for `.bytes`, a reference
    /// to the shared storage for `.shared`.
    func initialize(_ message: UnsafeMutablePointer<zmq_msg_t>) throws(ZeroMQError) {
        switch self {
        case let .bytes(bytes):
            guard zmq_msg_init_size(message, bytes.count) == 0 else { throw ZeroMQError.last("zmq_msg_init_size") }
            if !bytes.isEmpty {
                bytes.withUnsafeBytes { source in
                    if let start = source.baseAddress {
                        zmq_msg_data(message).copyMemory(from: start, byteCount: source.count)
                    }
                }
            }
        case let .shared(storage, range):
            let retained = Unmanaged.passRetained(storage)
            let data = storage.base + range.lowerBound
            guard zmq_msg_init_data(message, data, range.count, releaseSharedBytes, retained.toOpaque()) == 0 else {
                retained.release()
                throw ZeroMQError.last("zmq_msg_init_data")
            }
        }
    }
}
