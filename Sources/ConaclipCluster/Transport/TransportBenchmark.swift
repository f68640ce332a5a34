import Dispatch
import Foundation
import Logging
import Synchronization

/// Measures what the cluster's transport costs: loopback throughput of
/// ROUTER/DEALER messages made of 1 MiB frames, plaintext against CURVE,
/// and the protocol's checksum and encode/decode speed against a memory
/// copy measured in the same run. Backs `conaclip bench transport`.
public enum TransportBenchmark {
    /// What one run measured. Speeds are in GB/s (10^9 bytes per second).
    public struct Report: Codable, Sendable {
        public var frameBytes: Int
        public var framesPerMessage: Int
        public var totalBytes: Int
        public var plaintextGBps: Double
        public var curveGBps: Double
        /// CURVE throughput as a fraction of plaintext.
        public var curveToPlaintext: Double
        /// Memory copy of a buffer of the checksum size: the baseline.
        public var memcpyGBps: Double
        /// XXH64 over the same buffer.
        public var checksumGBps: Double
        /// `WireCodec.encode` of a gradient of that size into a reused payload
        /// buffer (copy, finiteness check, checksum).
        public var encodeGBps: Double
        /// `WireDecoder.decode` of it (checksum, finiteness check, metadata).
        public var decodeGBps: Double
    }

    /// Runs every measurement.
    ///
    /// - Parameters:
    ///   - totalBytes: bytes sent per loopback measurement.
    ///   - frameBytes: bytes per frame (the protocol uses 1 MiB).
    ///   - framesPerMessage: frames per message.
    ///   - checksumBytes: buffer size for the checksum and codec measurements.
    ///   - logger: receives the CURVE authenticator's messages.
    public static func run(totalBytes: Int = 512 << 20, frameBytes: Int = 1 << 20, framesPerMessage: Int = 8,
                           checksumBytes: Int = 64 << 20, logger: Logger) throws -> Report {
        let plaintext = try loopback(curve: false, totalBytes: totalBytes, frameBytes: frameBytes,
                                     framesPerMessage: framesPerMessage, logger: logger)
        let curve = try loopback(curve: true, totalBytes: totalBytes, frameBytes: frameBytes,
                                 framesPerMessage: framesPerMessage, logger: logger)
        let memcpy = copySpeed(bytes: checksumBytes)
        let checksum = checksumSpeed(bytes: checksumBytes)
        let (encode, decode) = try codecSpeed(bytes: checksumBytes)
        return Report(frameBytes: frameBytes, framesPerMessage: framesPerMessage, totalBytes: totalBytes,
                      plaintextGBps: plaintext, curveGBps: curve, curveToPlaintext: curve / plaintext,
                      memcpyGBps: memcpy, checksumGBps: checksum, encodeGBps: encode, decodeGBps: decode)
    }

    /// GB/s of messages of `framesPerMessage` zero-copy frames sent by a
    /// DEALER thread to a ROUTER over TCP loopback, in one process with two
    /// I/O threads (one per side, as two processes would have).
    public static func loopback(curve: Bool, totalBytes: Int, frameBytes: Int, framesPerMessage: Int,
                                logger: Logger) throws -> Double {
        precondition(frameBytes > 0 && framesPerMessage > 0 && totalBytes > 0, "benchmark sizes must be positive")
        let context = try ZeroMQContext(ioThreads: 2)
        let serverKeys = try ZeroMQCurveKeyPair.generate(), clientKeys = try ZeroMQCurveKeyPair.generate()
        var authenticator: ZAPAuthenticator?
        let settings = {
            var settings = ClusterSocketSettings()
            settings.limits = ProtocolLimits(maxMetaBytes: max(frameBytes, 1 << 16))
            return settings
        }()
        let security: CoordinatorSecurity
        if curve {
            let running = try ZAPAuthenticator(context: context, allowList: CurveAllowList(keys: [clientKeys.publicKey]), logger: logger)
            authenticator = running
            security = .curve(serverKeyPair: serverKeys, authenticator: running)
        } else {
            security = .plaintext
        }
        defer { authenticator?.stop() }
        let (router, endpoint) = try ClusterSockets.coordinator(context: context, bind: "tcp://127.0.0.1:*",
                                                                settings: settings, security: security)
        router.maxFramesPerMessage = framesPerMessage + 2
        let messageBytes = frameBytes * framesPerMessage
        let messageCount = max(1, totalBytes / messageBytes)
        let payload = ZeroMQSharedBytes(count: frameBytes) { bytes in
            for index in 0..<bytes.count { bytes[index] = UInt8(truncatingIfNeeded: index) }
        }
        let senderFailure = Mutex<String?>(nil)
        let senderDone = DispatchSemaphore(value: 0)
        let workerSecurity: WorkerSecurity = curve ? .curve(keyPair: clientKeys, serverPublicKey: serverKeys.publicKey) : .plaintext
        let thread = Thread {
            defer { senderDone.signal() }
            do {
                let dealer = try ClusterSockets.worker(context: context, connect: endpoint, routingID: Array("bench".utf8),
                                                       settings: settings, security: workerSecurity)
                try dealer.send(frames: [Array("ready".utf8)], timeout: .seconds(10))
                guard try dealer.receive(timeout: .seconds(10)) != nil else { throw ZeroMQError.timedOut(operation: "go", milliseconds: 10_000) }
                let message = ZeroMQOutgoingMessage(parts: Array(repeating: .shared(payload, 0..<frameBytes), count: framesPerMessage))
                for _ in 0..<messageCount { try dealer.send(message, timeout: .seconds(30)) }
                // Wait for the receiver's "done" so the socket stays open until everything is read.
                _ = try dealer.receive(timeout: .seconds(60))
            } catch {
                senderFailure.withLock { $0 = "\(error)" }
            }
        }
        thread.start()
        defer { _ = senderDone.wait(timeout: .now() + 70) }

        do {
            guard let ready = try router.receive(timeout: .seconds(10)) else {
                throw ZeroMQError.timedOut(operation: "benchmark handshake", milliseconds: 10_000)
            }
            let peer = ready[0].bytes
            let clock = ContinuousClock()
            let start = clock.now
            try router.send(frames: [peer, Array("go".utf8)], timeout: .seconds(10))
            var received = 0
            while received < messageCount {
                guard let frames = try router.receive(timeout: .seconds(30)) else {
                    throw ZeroMQError.timedOut(operation: "benchmark receive (\(senderFailure.withLock { $0 } ?? "sender silent"))",
                                               milliseconds: 30_000)
                }
                guard frames.count == framesPerMessage + 1 else {
                    throw ZeroMQError.invalidArgument("benchmark message with \(frames.count) frames")
                }
                received += 1
            }
            let elapsed = clock.now - start
            try router.send(frames: [peer, Array("done".utf8)], timeout: .seconds(10))
            return Double(messageCount * messageBytes) / seconds(elapsed) / 1e9
        } catch {
            // Release the sender thread at once instead of letting its waits run out.
            context.shutdown()
            throw error
        }
    }

    /// GB/s of XXH64 over `bytes` bytes (best of three).
    public static func checksumSpeed(bytes: Int) -> Double {
        let buffer = patternBuffer(bytes)
        defer { buffer.deallocate() }
        var sink: UInt64 = 0
        let best = bestOfThree { sink ^= XXHash64.hash(UnsafeRawBufferPointer(buffer)) }
        blackHole(sink)
        return Double(bytes) / best / 1e9
    }

    /// GB/s of copying `bytes` bytes (best of three): the baseline.
    public static func copySpeed(bytes: Int) -> Double {
        let source = patternBuffer(bytes), destination = patternBuffer(bytes)
        defer { source.deallocate(); destination.deallocate() }
        let best = bestOfThree { destination.copyMemory(from: UnsafeRawBufferPointer(source)) }
        return Double(bytes) / best / 1e9
    }

    /// GB/s of encoding and of decoding a gradient message of `bytes` bytes (best of three each).
    public static func codecSpeed(bytes: Int) throws(ProtocolError) -> (encode: Double, decode: Double) {
        let floats = [Float](unsafeUninitializedCapacity: bytes / 4) { buffer, count in
            for index in 0..<buffer.count { buffer[index] = Float(index % 1000) * 0.001 }
            count = buffer.count
        }
        let message = ClusterMessage.gradient(ShardGradient(weightsVersion: 1, sampleCount: 1))
        let envelope = WireEnvelope(runID: 1, step: 1, microShard: 0)
        var encoded = ZeroMQOutgoingMessage()
        var failure: ProtocolError?
        var payload: ZeroMQSharedBytes?
        let encodeTime = bestOfThree {
            encoded = ZeroMQOutgoingMessage()  // drop the last message, so the payload buffer is reused as in a training loop
            do {
                encoded = try floats.withUnsafeBufferPointer {
                    try WireCodec.encode(message, envelope: envelope, floats: $0, reusing: &payload)
                }
            }
            catch { failure = error as? ProtocolError ?? .malformed("\(error)") }
        }
        if let failure { throw failure }
        let frames = encoded.parts.map { part -> ZeroMQFrame in
            switch part {
            case let .bytes(value): return ZeroMQFrame(bytes: value)
            case let .shared(storage, range): return storage.withUnsafeBytes { ZeroMQFrame(bytes: UnsafeRawBufferPointer(rebasing: $0[range])) }
            }
        }
        let decoder = WireDecoder(runID: 1)
        let decodeTime = bestOfThree {
            do { _ = try decoder.decode(frames) } catch { failure = error as? ProtocolError ?? .malformed("\(error)") }
        }
        if let failure { throw failure }
        return (Double(floats.count * 4) / encodeTime / 1e9, Double(floats.count * 4) / decodeTime / 1e9)
    }

    private static func patternBuffer(_ bytes: Int) -> UnsafeMutableRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
        for index in 0..<bytes { buffer[index] = UInt8(truncatingIfNeeded: index &* 131) }
        return buffer
    }

    private static func bestOfThree(_ body: () -> Void) -> Double {
        let clock = ContinuousClock()
        var best = Double.infinity
        for _ in 0..<3 { best = min(best, seconds(clock.measure(body))) }
        return max(best, 1e-9)
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    @inline(never) private static func blackHole(_ value: UInt64) {
        if value == 0x1234_5678_9ABC_DEF0 { print("", terminator: "") }
    }
}
