import Testing
@testable import ConaclipCluster

/// The ZeroMQ bindings over real loopback sockets (ports chosen by the OS,
/// every wait bounded).
@Suite struct ZeroMQSocketTests {
    /// A ROUTER bound on loopback and a DEALER connected to it.
    func pair(context: ZeroMQContext, routerOptions: [ZeroMQSocketOption] = [],
              dealerID: [UInt8] = Array("dealer-1".utf8)) throws -> (router: ZeroMQSocket, dealer: ZeroMQSocket, endpoint: String) {
        let router = try ZeroMQSocket(context: context, type: .router, linger: .zero)
        try router.set([.routerMandatory(true)] + routerOptions)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        let dealer = try ZeroMQSocket(context: context, type: .dealer, linger: .zero)
        try dealer.set([.immediate(true), .routingID(dealerID)])
        try dealer.connect(endpoint)
        return (router, dealer, endpoint)
    }

    @Test func bindReportsThePortTheSystemChose() throws {
        let context = try ZeroMQContext()
        let router = try ZeroMQSocket(context: context, type: .router, linger: .zero)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        #expect((Int(endpoint.split(separator: ":").last ?? "") ?? 0) > 0)
        try router.unbind(endpoint)
    }

    @Test func routerAndDealerExchangeMultiMegabyteMessagesIntact() throws {
        let context = try ZeroMQContext()
        let (router, dealer, _) = try pair(context: context)
        // 6 MiB in 1 MiB zero-copy frames, plus a small copied header.
        let payload = ZeroMQSharedBytes(count: 6 << 20) { bytes in
            for index in 0..<bytes.count { bytes[index] = UInt8(truncatingIfNeeded: index &* 131 &+ index >> 13) }
        }
        var message = ZeroMQOutgoingMessage()
        message.append(Array("head".utf8))
        for chunk in 0..<6 { message.append(payload, range: (chunk << 20)..<((chunk + 1) << 20)) }
        try dealer.send(message, timeout: .seconds(10))

        let received = try #require(try router.receive(timeout: .seconds(10)))
        #expect(received.count == 8)
        #expect(received[0].bytes == Array("dealer-1".utf8))
        #expect(received[1].bytes == Array("head".utf8))
        var reassembled: [UInt8] = []
        reassembled.reserveCapacity(6 << 20)
        for frame in received.dropFirst(2) { frame.withUnsafeBytes { reassembled.append(contentsOf: $0) } }
        #expect(payload.withUnsafeBytes { Array($0) } == reassembled)

        // And back, addressed by the routing id.
        try router.send(ZeroMQOutgoingMessage(parts: [.shared(payload, 0..<payload.count)]).addressed(to: received[0].bytes),
                        timeout: .seconds(10))
        let reply = try #require(try dealer.receive(timeout: .seconds(10)))
        #expect(reply.count == 1 && reply[0].count == 6 << 20)
        #expect(reply[0].withUnsafeBytes { Array($0) } == reassembled)
    }

    @Test func routerMandatoryReportsAnUnknownPeer() throws {
        let context = try ZeroMQContext()
        let (router, _, _) = try pair(context: context)
        #expect {
            try router.send(frames: [Array("nobody".utf8), [1, 2, 3]], timeout: .milliseconds(200))
        } throws: { error in
            (error as? ZeroMQError)?.isHostUnreachable == true
        }
        // The socket is still usable afterwards.
        #expect(router.isOpen)
    }

    @Test func receiveReturnsNilWhenNothingArrivesInTime() throws {
        let context = try ZeroMQContext()
        let (router, _, _) = try pair(context: context)
        let start = ContinuousClock.now
        #expect(try router.receive(timeout: .milliseconds(50)) == nil)
        #expect(ContinuousClock.now - start >= .milliseconds(45))
    }

    @Test func anOversizedFrameDisconnectsItsSenderAndTheReceiverSurvives() throws {
        let context = try ZeroMQContext()
        let router = try ZeroMQSocket(context: context, type: .router, linger: .zero)
        try router.set([.routerMandatory(true), .maxMessageSize(bytes: 64 << 10)])
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        // Monitor before anyone connects, so no event is missed.
        let monitor = try router.monitor([.accepted, .disconnected])
        let bigSender = try ZeroMQSocket(context: context, type: .dealer, linger: .zero)
        try bigSender.set([.immediate(true), .routingID(Array("big".utf8))])
        try bigSender.connect(endpoint)
        // Wait until the big sender's connection is up (IMMEDIATE holds sends until then).
        #expect(try monitor.waitFor(.accepted, timeout: .seconds(5)) != nil)
        try bigSender.send(frames: [[UInt8](repeating: 7, count: 256 << 10)], timeout: .seconds(5))
        let dropped = try monitor.waitFor(.disconnected, timeout: .seconds(5))
        #expect(dropped != nil, "the router should drop the peer that sent an oversized frame")
        #expect(try router.receive(timeout: .zero) == nil, "the oversized message must not be delivered")

        // A well-behaved peer still gets through.
        let small = try ZeroMQSocket(context: context, type: .dealer, linger: .zero)
        try small.set([.immediate(true), .routingID(Array("small".utf8))])
        try small.connect(endpoint)
        try small.send(frames: [Array("hello".utf8)], timeout: .seconds(5))
        var delivered: [[UInt8]]?
        let deadline = ContinuousClock.now + .seconds(5)
        while delivered == nil, ContinuousClock.now < deadline {
            // The big sender reconnects but sends nothing more; skip nothing else.
            if let frames = try router.receive(timeout: .milliseconds(200)) { delivered = frames.map(\.bytes) }
        }
        #expect(delivered == [Array("small".utf8), Array("hello".utf8)])
    }

    @Test func receiveLimitsDiscardWholeMessages() throws {
        let context = try ZeroMQContext()
        let (router, dealer, _) = try pair(context: context)
        router.maxFramesPerMessage = 3
        try dealer.send(frames: [[1], [2], [3], [4]], timeout: .seconds(5))
        try dealer.send(frames: [[9]], timeout: .seconds(5))
        #expect(throws: ZeroMQError.limitExceeded(what: "frames per message", limit: 3, actual: 4)) {
            try router.receive(timeout: .seconds(5))
        }
        // The rest of the refused message was drained: the next message is intact.
        let next = try #require(try router.receive(timeout: .seconds(5)))
        #expect(next.map(\.bytes) == [Array("dealer-1".utf8), [9]])
    }

    @Test func pollerReportsWhichSocketIsReadable() throws {
        let context = try ZeroMQContext()
        let (routerA, dealerA, _) = try pair(context: context)
        let (routerB, _, _) = try pair(context: context)
        try dealerA.send(frames: [[1]], timeout: .seconds(5))
        var ready = [false, false]
        let deadline = ContinuousClock.now + .seconds(5)
        while !ready[0], ContinuousClock.now < deadline {
            ready = try ZeroMQPoller.waitForInput([routerA, routerB], timeout: .seconds(1))
        }
        #expect(ready == [true, false])
        #expect(try ZeroMQPoller.waitForInput([routerB], timeout: .milliseconds(10)) == [false])
    }

    @Test func closedSocketsRefuseToWork() throws {
        let context = try ZeroMQContext()
        let socket = try ZeroMQSocket(context: context, type: .dealer)
        socket.close()
        #expect(throws: ZeroMQError.self) { try socket.receive(timeout: .zero) }
        #expect(throws: ZeroMQError.self) { try socket.connect("tcp://127.0.0.1:1") }
    }

    @Test func invalidOptionsAreRefusedWithReasons() throws {
        let context = try ZeroMQContext()
        let socket = try ZeroMQSocket(context: context, type: .dealer)
        #expect(throws: ZeroMQError.self) { try socket.set(.routingID([0, 1])) }
        #expect(throws: ZeroMQError.self) { try socket.set(.routingID([])) }
        #expect(throws: ZeroMQError.self) { try socket.bind("nonsense://here") }
    }

    @Test func z85AndCurveKeysRoundTrip() throws {
        // ZeroMQ RFC 32's test vector.
        let bytes: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]
        #expect(try ZeroMQ.z85Encode(bytes) == "HelloWorld")
        #expect(try ZeroMQ.z85Decode("HelloWorld") == bytes)
        #expect(throws: ZeroMQError.self) { try ZeroMQ.z85Decode("Hell") }
        #expect(throws: ZeroMQError.self) { try ZeroMQ.z85Decode("Hello Worl") }
        #expect(throws: ZeroMQError.self) { try ZeroMQ.z85Encode([1, 2, 3]) }

        let pair = try ZeroMQCurveKeyPair.generate()
        #expect(pair.publicKey != pair.secretKey)
        #expect(pair.publicKey.z85.count == 40)
        #expect(try ZeroMQCurveKey(z85: pair.publicKey.z85) == pair.publicKey)
        #expect(try ZeroMQCurveKeyPair(secretKey: pair.secretKey) == pair)
        #expect(throws: ZeroMQError.self) { try ZeroMQCurveKey(z85: "tooShort") }
    }
}
