/// Turns cluster messages into ZeroMQ frames (header, metadata, 1 MiB
/// float frames) and back.
///
/// Encoding copies the floats once, into shared bytes that are then sent
/// zero-copy (to one peer or, for weights and gathered embeddings, to all).
/// Decoding checks everything before returning: frame count and sizes,
/// magic, version, header checksum, type, run id, limits, payload checksum,
/// finiteness of floats, and the metadata's own consistency.
public enum WireCodec {
    /// Encodes `message` for `envelope` with `floats` as its payload.
    ///
    /// Throws if the message would be refused by a receiver: floats on a type
    /// that carries none (or none on one that needs them), a non-finite
    /// float, a micro-shard missing or present against the type, or
    /// metadata inconsistent with the payload.
    public static func encode(_ message: ClusterMessage, envelope: WireEnvelope,
                              floats: UnsafeBufferPointer<Float> = UnsafeBufferPointer(start: nil, count: 0))
    throws(ProtocolError) -> ZeroMQOutgoingMessage {
        var payload: ZeroMQSharedBytes?
        return try encode(message, envelope: envelope, floats: floats, reusing: &payload)
    }

    /// Encodes like `encode(_:envelope:floats:)`, writing the floats into
    /// `payloadBuffer` when it is free for reuse (see
    /// `ZeroMQSharedBytes.reuse`) and leaving the buffer used there, so a
    /// message sent every step does not allocate its payload every step.
    public static func encode(_ message: ClusterMessage, envelope: WireEnvelope, floats: UnsafeBufferPointer<Float>,
                              reusing payloadBuffer: inout ZeroMQSharedBytes?) throws(ProtocolError) -> ZeroMQOutgoingMessage {
        try encode(message, envelope: envelope, floats: floats, reusing: &payloadBuffer, checkFinite: true)
    }

    /// `checkFinite: false` lets non-finite floats through: only fault
    /// injection uses it, to send what a broken worker would.
    static func encode(_ message: ClusterMessage, envelope: WireEnvelope, floats: UnsafeBufferPointer<Float>,
                       reusing payloadBuffer: inout ZeroMQSharedBytes?, checkFinite: Bool) throws(ProtocolError) -> ZeroMQOutgoingMessage {
        let type = message.type
        guard type.carriesFloats || floats.isEmpty else {
            throw .malformed("a \(type) message carries no floats, \(floats.count) were given")
        }
        guard (envelope.microShard != nil) == type.namesMicroShard, envelope.microShard != WireHeader.noMicroShard else {
            throw .malformed(type.namesMicroShard ? "a \(type) message must name a micro-shard" : "a \(type) message names no micro-shard")
        }
        var writer = WireWriter()
        message.body.write(to: &writer)
        let meta = writer.buffer
        let frameCount = WireProtocol.floatFrameCount(for: floats.count)
        guard meta.count <= Int(UInt32.max), frameCount <= Int(UInt32.max) else {
            throw .oversized(what: "message", limit: Int(UInt32.max), actual: max(meta.count, frameCount))
        }
        var header = WireHeader(type: type, runID: envelope.runID, step: envelope.step, microShard: envelope.microShard,
                                metaLength: UInt32(meta.count), floatFrameCount: UInt32(frameCount),
                                floatCount: UInt64(floats.count), payloadChecksum: 0)
        try message.body.validate(against: header)

        var hasher = XXHash64()
        hasher.update(meta)
        var outgoing = ZeroMQOutgoingMessage()
        if let source = floats.baseAddress, !floats.isEmpty {
            let payload = try ZeroMQSharedBytes.reuse(&payloadBuffer, count: floats.count * 4) { (destination: UnsafeMutableRawBufferPointer) throws(ProtocolError) in
                let target = destination.baseAddress.unsafelyUnwrapped
                for frame in 0..<frameCount {
                    let start = frame * WireProtocol.floatsPerFrame
                    let count = min(WireProtocol.floatsPerFrame, floats.count - start)
                    let chunk = target + start * 4
                    chunk.copyMemory(from: source + start, byteCount: count * 4)
                    #if _endian(big)
                    let words = chunk.assumingMemoryBound(to: UInt32.self)
                    for index in 0..<count { words[index] = words[index].littleEndian }
                    #endif
                    if checkFinite, type.requiresFiniteFloats, let bad = FloatChecks.firstNonFinite(chunk, count: count) {
                        throw .nonFiniteValue(type: type, index: start + bad)
                    }
                    hasher.update(UnsafeRawBufferPointer(start: chunk, count: count * 4))
                }
            }
            header.payloadChecksum = hasher.value
            outgoing.append(header.encoded())
            outgoing.append(meta)
            for frame in 0..<frameCount {
                let start = frame * WireProtocol.bytesPerFloatFrame
                outgoing.append(payload, range: start..<min(start + WireProtocol.bytesPerFloatFrame, payload.count))
            }
        } else {
            header.payloadChecksum = hasher.value
            outgoing.append(header.encoded())
            outgoing.append(meta)
        }
        return outgoing
    }
}

/// A message that passed every check.
public struct DecodedMessage: Sendable {
    public let header: WireHeader
    public let message: ClusterMessage
    /// The floats (empty for types that carry none).
    public let floats: FloatPayload

    /// The envelope the message was sent with.
    public var envelope: WireEnvelope { WireEnvelope(runID: header.runID, step: header.step, microShard: header.microShard) }
}

/// Decodes and validates received messages for one run.
public struct WireDecoder: Sendable {
    /// Size limits; anything larger is refused before it is read.
    public var limits: ProtocolLimits
    /// The run this receiver belongs to; nil accepts any run (a worker
    /// before its welcome). A `register` with run id 0 (a worker that does
    /// not know the run yet) is always accepted.
    public var runID: UInt64?

    public init(limits: ProtocolLimits = ProtocolLimits(), runID: UInt64?) {
        self.limits = limits
        self.runID = runID
    }

    /// Decodes a whole message (without a ROUTER's routing id frame).
    public func decode(_ frames: [ZeroMQFrame]) throws(ProtocolError) -> DecodedMessage {
        try decode(frames[...])
    }

    /// Decodes a whole message (without a ROUTER's routing id frame).
    public func decode(_ frames: ArraySlice<ZeroMQFrame>) throws(ProtocolError) -> DecodedMessage {
        guard let first = frames.first else { throw .truncated(what: "message frames", expected: 2, actual: 0) }
        let header = try first.withUnsafeBytes { bytes throws(ProtocolError) in try WireHeader.decode(bytes) }
        if let expected = runID, header.runID != expected, !(header.type == .register && header.runID == 0) {
            throw .wrongRunID(expected: expected, received: header.runID)
        }
        guard header.metaLength <= limits.maxMetaBytes else {
            throw .oversized(what: "metadata", limit: limits.maxMetaBytes, actual: Int(header.metaLength))
        }
        guard header.floatCount <= UInt64(limits.maxFloats) else {
            throw .oversized(what: "float count", limit: limits.maxFloats, actual: Int(clamping: header.floatCount))
        }
        let floatCount = Int(header.floatCount)
        let expectedFrames = WireProtocol.floatFrameCount(for: floatCount)
        guard Int(header.floatFrameCount) == expectedFrames else {
            throw .malformed("header declares \(header.floatFrameCount) float frames for \(floatCount) floats, expected \(expectedFrames)")
        }
        let needed = 2 + expectedFrames
        guard frames.count >= needed else { throw .truncated(what: "message frames", expected: needed, actual: frames.count) }
        guard frames.count == needed else { throw .malformed("\(frames.count - needed) frames after the declared payload") }

        let metaFrame = frames[frames.startIndex + 1]
        guard metaFrame.count == Int(header.metaLength) else {
            throw metaFrame.count < Int(header.metaLength)
                ? .truncated(what: "metadata frame", expected: Int(header.metaLength), actual: metaFrame.count)
                : .malformed("metadata frame has \(metaFrame.count) bytes, the header declares \(header.metaLength)")
        }
        let floatFrames = Array(frames.dropFirst(2))
        for (index, frame) in floatFrames.enumerated() {
            let expected = min(WireProtocol.floatsPerFrame, floatCount - index * WireProtocol.floatsPerFrame) * 4
            guard frame.count == expected else {
                throw frame.count < expected
                    ? .truncated(what: "float frame \(index + 1)", expected: expected, actual: frame.count)
                    : .malformed("float frame \(index + 1) has \(frame.count) bytes, expected \(expected)")
            }
        }

        // One pass per frame (while it is in cache): its checksum, and whether its floats are finite.
        var hasher = XXHash64()
        metaFrame.withUnsafeBytes { hasher.update($0) }
        let checkFinite = header.type.requiresFiniteFloats
        var firstNonFinite: Int?
        var offset = 0
        for frame in floatFrames {
            frame.withUnsafeBytes { bytes in
                hasher.update(bytes)
                if checkFinite, firstNonFinite == nil, let base = bytes.baseAddress,
                   let bad = FloatChecks.firstNonFinite(base, count: bytes.count / 4) {
                    firstNonFinite = offset + bad
                }
            }
            offset += frame.count / 4
        }
        let computed = hasher.value
        guard computed == header.payloadChecksum else {
            throw .payloadChecksumMismatch(expected: header.payloadChecksum, actual: computed)
        }
        if let bad = firstNonFinite { throw .nonFiniteValue(type: header.type, index: bad) }

        let message = try metaFrame.withUnsafeBytes { bytes throws(ProtocolError) in try ClusterMessage.read(header.type, from: bytes) }
        try message.body.validate(against: header)
        return DecodedMessage(header: header, message: message, floats: FloatPayload(frames: floatFrames, count: floatCount))
    }
}
