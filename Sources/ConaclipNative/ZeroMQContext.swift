import CZeroMQ

/// A libzmq context: the I/O threads and the `inproc://` namespace shared by
/// the sockets created from it.
///
/// A context is thread-safe. Each socket keeps its context alive, so the
/// context is terminated only after every socket is gone; sockets are created
/// with a finite linger, so termination never hangs.
public final class ZeroMQContext: @unchecked Sendable {
    /// The libzmq context handle (valid for the object's lifetime).
    let handle: UnsafeMutableRawPointer

    /// Creates a context with `ioThreads` I/O threads (one moves about 1 GB/s).
    public init(ioThreads: Int = 1) throws(ZeroMQError) {
        guard let handle = zmq_ctx_new() else { throw ZeroMQError.last("zmq_ctx_new") }
        self.handle = handle
        if ioThreads != 1, zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(clamping: max(1, ioThreads))) != 0 {
            let error = ZeroMQError.last("zmq_ctx_set(ZMQ_IO_THREADS)")
            zmq_ctx_term(handle)
            throw error
        }
    }

    /// Makes every blocking call on this context's sockets return with
    /// `ETERM` (see `ZeroMQError.isContextTerminated`) and refuses new
    /// sockets. Safe to call from any thread, more than once.
    public func shutdown() {
        zmq_ctx_shutdown(handle)
    }

    deinit {
        // Every socket holds a strong reference to its context, so all are
        // closed here; their linger is finite, so this returns.
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}
