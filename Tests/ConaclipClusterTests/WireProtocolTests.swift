import Testing
@testable import ConaclipCluster

/// Encode/decode round trips of every message type, and each way a message
/// is refused with its specific error.
@Suite struct WireProtocolTests {
    let runID: UInt64 = 0x00C0_FFEE_1234_5678
    var decoder: WireDecoder { WireDecoder(runID: runID) }

    static let blocks = [
        EmbeddingBlock(kind: .teacherImage, rows: 3, columns: 8), EmbeddingBlock(kind: .teacherText, rows: 3, columns: 8),
        EmbeddingBlock(kind: .studentImage, rows: 3, columns: 4), EmbeddingBlock(kind: .studentText, rows: 3, columns: 4),
    ]

    /// Every type, with an envelope and float count that type accepts.
    static let samples: [(ClusterMessage, UInt32?, Int)] = [
        (.register(WorkerRegistration(name: "w-1 ✓", hostname: "node-a", processID: 4242, threads: 1, configDigest: "abc")), nil, 0),
        (.welcome(Welcome(workerID: 3, heartbeatIntervalMilliseconds: 500, heartbeatTimeoutMilliseconds: 3000, configuration: Array("{\"a\":1}".utf8))), nil, 0),
        (.heartbeat(Heartbeat(sequence: 99, busy: true)), nil, 0),
        (.weights(WeightsUpdate(weightsVersion: 7, parameterDigest: [UInt8](repeating: 0xAB, count: 32))), nil, 1000),
        (.assign(ShardAssignment(phase: .embeddings, weightsVersion: 7, epoch: 2, microShardCount: 8, firstSample: 48, sampleCount: 16)), 3, 0),
        (.embeddings(ShardEmbeddings(weightsVersion: 7, blocks: blocks)), 3, 72),
        (.gathered(GatheredEmbeddings(weightsVersion: 7, blocks: blocks)), nil, 72),
        (.gradient(ShardGradient(weightsVersion: 7, sampleCount: 16, lossTerms: [LossTermValue(name: "fd", value: 0.25)])), 3, 500),
        (.resultAck(ResultAck(phase: .gradient)), 3, 0),
        (.shutdown(Shutdown(reason: "training finished")), nil, 0),
        (.error(PeerError(code: .computationFailed, message: "loss is NaN")), nil, 0),
        (.goodbye(Goodbye(reason: "SIGTERM")), nil, 0),
    ]

    func encode(_ message: ClusterMessage, step: UInt64 = 11, shard: UInt32? = nil, floats: [Float] = [],
                runID: UInt64? = nil) throws -> [ZeroMQFrame] {
        let envelope = WireEnvelope(runID: runID ?? self.runID, step: step, microShard: shard)
        let outgoing = try floats.withUnsafeBufferPointer { try WireCodec.encode(message, envelope: envelope, floats: $0) }
        return receivedFrames(outgoing)
    }

    func expectError(_ expected: ProtocolError, _ frames: [ZeroMQFrame], decoder: WireDecoder? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: expected, sourceLocation: sourceLocation) { try (decoder ?? self.decoder).decode(frames) }
    }

    func gradientFrames(_ count: Int = 600) throws -> [ZeroMQFrame] {
        try encode(.gradient(ShardGradient(weightsVersion: 1, sampleCount: 4)), shard: 1, floats: randomFloats(count, seed: 5))
    }

    @Test func everyTypeRoundTrips() throws {
        for (index, (message, shard, floatCount)) in Self.samples.enumerated() {
            let floats = randomFloats(floatCount, seed: UInt64(index))
            let frames = try encode(message, step: UInt64(100 + index), shard: shard, floats: floats)
            #expect(frames.count == 2 + (floatCount > 0 ? 1 : 0))
            #expect(frames[0].count == WireHeader.size)
            let decoded = try decoder.decode(frames)
            #expect(decoded.message == message)
            #expect(decoded.envelope == WireEnvelope(runID: runID, step: UInt64(100 + index), microShard: shard))
            #expect(decoded.floats.array == floats)
        }
    }

    @Test func largeFloatPayloadsAreSplitIntoOneMebibyteFrames() throws {
        let count = 2 * WireProtocol.floatsPerFrame + 5
        let floats = randomFloats(count, seed: 9)
        let frames = try encode(.weights(WeightsUpdate(weightsVersion: 1)), floats: floats)
        #expect(frames.map(\.count) == [WireHeader.size, frames[1].count, 1 << 20, 1 << 20, 20])
        let decoded = try decoder.decode(frames)
        let destination = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        defer { destination.deallocate() }
        decoded.floats.copy(into: destination)
        #expect(Array(destination) == floats)
    }

    @Test func payloadBuffersAreReusedOnlyWhenNoMessageHoldsThem() throws {
        let message = ClusterMessage.gradient(ShardGradient(weightsVersion: 1, sampleCount: 1))
        let envelope = WireEnvelope(runID: runID, step: 1, microShard: 0)
        var buffer: ZeroMQSharedBytes?
        func encode(_ floats: [Float]) throws -> ZeroMQOutgoingMessage {
            try floats.withUnsafeBufferPointer { try WireCodec.encode(message, envelope: envelope, floats: $0, reusing: &buffer) }
        }
        var first: ZeroMQOutgoingMessage? = try encode(randomFloats(64, seed: 1))
        let firstBuffer = buffer.map(ObjectIdentifier.init)
        // While the first message is alive (queued), its buffer must not be overwritten.
        var second: ZeroMQOutgoingMessage? = try encode(randomFloats(64, seed: 2))
        let secondBuffer = buffer.map(ObjectIdentifier.init)
        #expect(firstBuffer != nil && secondBuffer != firstBuffer)
        #expect(try decoder.decode(receivedFrames(try #require(first))).floats.array == randomFloats(64, seed: 1))
        // Once no message holds it, the buffer is refilled in place.
        first = nil
        second = nil
        let third = try encode(randomFloats(64, seed: 3))
        #expect(buffer.map(ObjectIdentifier.init) == secondBuffer)
        #expect(second == nil && first == nil)
        #expect(try decoder.decode(receivedFrames(third)).floats.array == randomFloats(64, seed: 3))
    }

    @Test func aWorkerThatDoesNotKnowTheRunYetMayRegister() throws {
        let frames = try encode(.register(WorkerRegistration(name: "w", hostname: "h", processID: 1, threads: 1)), runID: 0)
        #expect(try decoder.decode(frames).header.runID == 0)
        // ...but any other message with run id 0 is from the wrong run.
        let heartbeat = try encode(.heartbeat(Heartbeat(sequence: 1, busy: false)), runID: 0)
        expectError(.wrongRunID(expected: runID, received: 0), heartbeat)
        // A decoder without a run (a worker before its welcome) accepts any.
        #expect(throws: Never.self) { try WireDecoder(runID: nil).decode(heartbeat) }
    }

    @Test func refusesMessagesOfAnotherRun() throws {
        let frames = try encode(.heartbeat(Heartbeat(sequence: 1, busy: false)), runID: 77)
        expectError(.wrongRunID(expected: runID, received: 77), frames)
    }

    @Test func refusesTruncatedMessages() throws {
        let frames = try gradientFrames()
        expectError(.truncated(what: "message frames", expected: 2, actual: 0), [])
        expectError(.truncated(what: "header frame", expected: 64, actual: 30), [ZeroMQFrame(bytes: frames[0].bytes.prefix(30))])
        expectError(.truncated(what: "message frames", expected: 3, actual: 2), Array(frames.prefix(2)))
        let shortFloats = ZeroMQFrame(bytes: frames[2].bytes.dropLast(4))
        expectError(.truncated(what: "float frame 1", expected: 2400, actual: 2396), [frames[0], frames[1], shortFloats])
        let shortMeta = ZeroMQFrame(bytes: frames[1].bytes.dropLast())
        expectError(.truncated(what: "metadata frame", expected: frames[1].count, actual: frames[1].count - 1),
                    [frames[0], shortMeta, frames[2]])
    }

    @Test func refusesOversizedMessages() throws {
        let frames = try gradientFrames()
        let small = WireDecoder(limits: ProtocolLimits(maxMetaBytes: 8, maxFloats: 100), runID: runID)
        expectError(.oversized(what: "metadata", limit: 8, actual: frames[1].count), frames, decoder: small)
        let tight = WireDecoder(limits: ProtocolLimits(maxMetaBytes: 1024, maxFloats: 100), runID: runID)
        expectError(.oversized(what: "float count", limit: 100, actual: 600), frames, decoder: tight)
        expectError(.oversized(what: "header frame", limit: 64, actual: 65), [ZeroMQFrame(bytes: frames[0].bytes + [0])] + frames.dropFirst())
    }

    @Test func refusesGarbageAndWrongMagic() throws {
        expectError(.badMagic(Array("hell".utf8)), [ZeroMQFrame(bytes: Array("hello, this is not a conaclip header at all; just some garbage!!".utf8))])
        var bytes = try gradientFrames()[0].bytes
        bytes[0] = UInt8(ascii: "X")
        expectError(.badMagic(Array("XNCL".utf8)), [ZeroMQFrame(bytes: bytes)])
    }

    @Test func refusesOtherProtocolVersions() throws {
        let frames = try gradientFrames()
        var header = try frames[0].withUnsafeBytes { try WireHeader.decode($0) }
        header.version = 2
        expectError(.unsupportedVersion(received: 2, supported: 1), [ZeroMQFrame(bytes: header.encoded())] + frames.dropFirst())
    }

    @Test func refusesUnknownTypes() throws {
        var bytes = try gradientFrames()[0].bytes
        bytes[6] = 99
        bytes[7] = 0
        let checksum = XXHash64.hash(Array(bytes[0..<56]))
        withUnsafeBytes(of: checksum.littleEndian) { bytes.replaceSubrange(56..<64, with: $0) }
        expectError(.unknownType(99), [ZeroMQFrame(bytes: bytes)])
    }

    @Test func refusesCorruptedHeadersAndPayloads() throws {
        let frames = try gradientFrames()
        var header = frames[0].bytes
        header[24] ^= 0x01  // step
        #expect(throws: ProtocolError.self) { try decoder.decode([ZeroMQFrame(bytes: header)] + frames.dropFirst()) }
        do {
            _ = try decoder.decode([ZeroMQFrame(bytes: header)] + frames.dropFirst())
        } catch {
            guard case .headerChecksumMismatch = error else { Issue.record("expected a header checksum mismatch, got \(error)"); return }
        }
        var payload = frames[2].bytes
        payload[1234] ^= 0x10
        do {
            _ = try decoder.decode([frames[0], frames[1], ZeroMQFrame(bytes: payload)])
            Issue.record("a corrupted payload was accepted")
        } catch {
            guard case .payloadChecksumMismatch = error else { Issue.record("expected a payload checksum mismatch, got \(error)"); return }
        }
    }

    @Test func refusesNonFiniteFloats() throws {
        var floats = randomFloats(100, seed: 1)
        floats[42] = .nan
        #expect(throws: ProtocolError.nonFiniteValue(type: .gradient, index: 42)) {
            try encode(.gradient(ShardGradient(weightsVersion: 1, sampleCount: 1)), shard: 0, floats: floats)
        }
        // A peer that skips the check is caught by the receiver.
        floats[42] = -.infinity
        let meta = { var writer = WireWriter(); ShardGradient(weightsVersion: 1, sampleCount: 1).write(to: &writer); return writer.buffer }()
        let payload = floats.withUnsafeBytes { Array($0) }
        var hasher = XXHash64()
        hasher.update(meta)
        hasher.update(payload)
        let header = WireHeader(type: .gradient, runID: runID, step: 1, microShard: 0, metaLength: UInt32(meta.count),
                                floatFrameCount: 1, floatCount: 100, payloadChecksum: hasher.value)
        expectError(.nonFiniteValue(type: .gradient, index: 42),
                    [ZeroMQFrame(bytes: header.encoded()), ZeroMQFrame(bytes: meta), ZeroMQFrame(bytes: payload)])
    }

    @Test func findsTheFirstNonFiniteFloatAmongEdgeValues() {
        let finite: [Float] = [0, -0, 1, -1, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                               .leastNonzeroMagnitude, -.leastNormalMagnitude, 3.4e38]
        finite.withUnsafeBytes { #expect(FloatChecks.firstNonFinite($0.baseAddress!, count: finite.count) == nil) }
        for bad: Float in [.nan, -.nan, .signalingNaN, .infinity, -.infinity, Float(bitPattern: 0x7FFF_FFFF), Float(bitPattern: 0xFF80_0001)] {
            var values = finite + finite
            values[11] = bad
            values[15] = .infinity
            values.withUnsafeBytes { #expect(FloatChecks.firstNonFinite($0.baseAddress!, count: values.count) == 11) }
        }
    }

    @Test func refusesMetadataThatContradictsThePayload() throws {
        let blocks = [EmbeddingBlock(kind: .studentText, rows: 2, columns: 4)]
        #expect(throws: ProtocolError.malformed("embeddings: blocks describe 8 floats, the payload has 9")) {
            try encode(.embeddings(ShardEmbeddings(weightsVersion: 1, blocks: blocks)), shard: 0, floats: randomFloats(9, seed: 2))
        }
        #expect(throws: ProtocolError.self) {
            try encode(.heartbeat(Heartbeat(sequence: 1, busy: false)), floats: [1, 2])
        }
        #expect(throws: ProtocolError.self) {
            try encode(.assign(ShardAssignment(phase: .gradient, weightsVersion: 1, epoch: 0, microShardCount: 4, firstSample: 0, sampleCount: 1)), shard: 4)
        }
        #expect(throws: ProtocolError.self) { try encode(.resultAck(ResultAck(phase: .gradient)), shard: nil) }
    }
}
