import CZeroMQ

/// Waits, with a bound, until one of several sockets has a message to read.
public enum ZeroMQPoller {
    /// Waits at most `timeout` until at least one of `sockets` is readable;
    /// returns which are (all false on timeout).
    public static func waitForInput(_ sockets: [ZeroMQSocket], timeout: Duration) throws(ZeroMQError) -> [Bool] {
        var items = [zmq_pollitem_t]()
        items.reserveCapacity(sockets.count)
        for socket in sockets {
            items.append(zmq_pollitem_t(socket: try socket.open("poll"), fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
        }
        let deadline = ContinuousClock.now + timeout
        while true {
            let remaining = zeroMQMilliseconds(deadline - ContinuousClock.now)
            let count = zmq_poll(&items, Int32(items.count), remaining)
            if count >= 0 { return items.map { $0.revents & Int16(ZMQ_POLLIN) != 0 } }
            let code = zmq_errno()
            guard code == EINTR else { throw .failed(operation: "zmq_poll", errno: code) }
            if remaining == 0 { return items.map { _ in false } }
        }
    }

    /// Polls one socket handle for `events`; true if any arrived in time.
    static func wait(handle: UnsafeMutableRawPointer, events: Int16, milliseconds: Int) throws(ZeroMQError) -> Bool {
        var item = zmq_pollitem_t(socket: handle, fd: 0, events: events, revents: 0)
        let count = zmq_poll(&item, 1, milliseconds)
        if count >= 0 { return count > 0 }
        let code = zmq_errno()
        if code == EINTR { return false }
        throw .failed(operation: "zmq_poll", errno: code)
    }
}
