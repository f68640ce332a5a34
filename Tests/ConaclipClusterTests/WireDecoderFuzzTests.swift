import Testing
@testable import ConaclipCluster

/// Random, truncated and bit-flipped inputs to the decoder: every one must
/// be refused with a `ProtocolError` (the checksums make acceptance of a
/// corrupted message a 2^-64 event), and none may crash the process.
@Suite struct WireDecoderFuzzTests {
    let runID: UInt64 = 42
    var decoder: WireDecoder { WireDecoder(limits: ProtocolLimits(maxMetaBytes: 4096, maxFloats: 1 << 20), runID: runID) }

    /// Valid messages to mutate (float payloads random, so no two frames are equal).
    func seeds() throws -> [[[UInt8]]] {
        let blocks = [EmbeddingBlock(kind: .studentImage, rows: 2, columns: 5), EmbeddingBlock(kind: .studentText, rows: 2, columns: 5)]
        let messages: [(ClusterMessage, WireEnvelope, [Float])] = [
            (.heartbeat(Heartbeat(sequence: 1, busy: false)), WireEnvelope(runID: runID), []),
            (.register(WorkerRegistration(name: "w", hostname: "host", processID: 9, threads: 1)), WireEnvelope(runID: runID), []),
            (.embeddings(ShardEmbeddings(weightsVersion: 3, blocks: blocks)), WireEnvelope(runID: runID, step: 5, microShard: 1),
             randomFloats(20, seed: 1)),
            (.gradient(ShardGradient(weightsVersion: 3, sampleCount: 2, lossTerms: [LossTermValue(name: "x", value: 1)])),
             WireEnvelope(runID: runID, step: 5, microShard: 1), randomFloats(WireProtocol.floatsPerFrame + 77, seed: 2)),
        ]
        return try messages.map { message, envelope, floats in
            try floats.withUnsafeBufferPointer { try WireCodec.encode(message, envelope: envelope, floats: $0) }
        }.map { receivedFrames($0).map(\.bytes) }
    }

    /// Decodes; returns whether the input was accepted.
    func accepted(_ frames: [[UInt8]]) -> Bool {
        do {
            _ = try decoder.decode(frames.map { ZeroMQFrame(bytes: $0) })
            return true
        } catch {
            return false
        }
    }

    @Test func unmodifiedSeedsAreAccepted() throws {
        for seed in try seeds() { #expect(accepted(seed)) }
    }

    @Test func mutatedMessagesAreAllRefused() throws {
        let seeds = try seeds()
        var rng = SplitMix64(seed: 0xF022)
        var acceptedMutants: [String] = []
        for iteration in 0..<1500 {
            // The big seed is slow to hash in a debug build: use it one time in ten.
            let seedIndex = iteration % 10 == 0 ? 3 : Int.random(in: 0..<3, using: &rng)
            var frames = seeds[seedIndex]
            let target = Int.random(in: 0..<frames.count, using: &rng)
            let mutation = Int.random(in: 0..<7, using: &rng)
            switch mutation {
            case 0, 1:  // flip 1-3 bits in one frame
                guard !frames[target].isEmpty else { frames[target] = [1]; break }
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    let bit = Int.random(in: 0..<(frames[target].count * 8), using: &rng)
                    frames[target][bit / 8] ^= UInt8(1 << (bit % 8))
                }
            case 2:  // truncate a frame
                guard !frames[target].isEmpty else { frames.remove(at: target); break }
                frames[target] = Array(frames[target].prefix(Int.random(in: 0..<frames[target].count, using: &rng)))
            case 3:  // drop a frame
                frames.remove(at: target)
            case 4:  // duplicate a frame
                frames.insert(frames[target], at: target)
            case 5:  // replace a frame with random bytes of the same length
                let length = frames[target].count
                frames[target] = (0..<max(length, 1)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            default:  // append a random frame
                frames.append((0..<Int.random(in: 0...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            }
            // Flipping the same bit twice restores the message: that is no mutant.
            if frames == seeds[seedIndex] { continue }
            if accepted(frames) { acceptedMutants.append("iteration \(iteration), mutation \(mutation), frame \(target)") }
        }
        #expect(acceptedMutants.isEmpty, "accepted: \(acceptedMutants.prefix(5))")
    }

    @Test func randomGarbageIsRefused() {
        var rng = SplitMix64(seed: 0xBAD)
        for _ in 0..<2000 {
            let frames = (0..<Int.random(in: 0...5, using: &rng)).map { _ in
                (0..<Int.random(in: 0...100, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            #expect(!accepted(frames))
        }
    }

    @Test func validHeadersWithRandomBodiesNeverCrashOrPassNonFiniteFloats() throws {
        // Headers that pass every header check but lie about the rest.
        var rng = SplitMix64(seed: 0x4EAD)
        for _ in 0..<1000 {
            let type = MessageType.allCases.randomElement(using: &rng) ?? .heartbeat
            let meta = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let floatCount = type.carriesFloats ? Int.random(in: 0...64, using: &rng) : 0
            let payload = (0..<(floatCount * 4)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var hasher = XXHash64()
            hasher.update(meta)
            hasher.update(payload)
            let header = WireHeader(type: type, runID: runID, step: 1, microShard: type.namesMicroShard ? 0 : nil,
                                    metaLength: UInt32(meta.count), floatFrameCount: floatCount > 0 ? 1 : 0,
                                    floatCount: UInt64(floatCount), payloadChecksum: hasher.value)
            // Random metadata can decode by chance (e.g. a heartbeat is 9 bytes);
            // what matters is that nothing crashes and non-finite floats never pass.
            do {
                let decoded = try decoder.decode([ZeroMQFrame(bytes: header.encoded()), ZeroMQFrame(bytes: meta)]
                                                 + (floatCount > 0 ? [ZeroMQFrame(bytes: payload)] : []))
                #expect(decoded.floats.array.allSatisfy { $0.isFinite })
            } catch {}
        }
    }
}
