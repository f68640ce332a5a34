/// The fixed 64-byte first frame of every message. All integers are
/// little-endian.
///
/// | offset | size | field |
/// |-------:|-----:|-------|
/// |  0 | 4 | magic "CNCL" |
/// |  4 | 2 | protocol version |
/// |  6 | 2 | message type |
/// |  8 | 4 | flags (none defined; must be 0) |
/// | 12 | 4 | meta length (bytes of frame 2) |
/// | 16 | 8 | run id |
/// | 24 | 8 | step |
/// | 32 | 4 | micro-shard (0xFFFFFFFF: none) |
/// | 36 | 4 | float frame count |
/// | 40 | 8 | float count |
/// | 48 | 8 | payload checksum: XXH64 of the meta bytes then the float bytes |
/// | 56 | 8 | header checksum: XXH64 of bytes 0..<56 |
///
/// Frame 2 holds the type's metadata (possibly empty); frames 3... hold the
/// floats (little-endian float32) in chunks of exactly
/// `WireProtocol.floatsPerFrame`, the last one shorter.
public struct WireHeader: Sendable, Equatable {
    public var type: MessageType
    public var runID: UInt64
    public var step: UInt64
    /// The micro-shard the message is about, if any.
    public var microShard: UInt32?
    public var metaLength: UInt32
    public var floatFrameCount: UInt32
    public var floatCount: UInt64
    public var payloadChecksum: UInt64
    /// The protocol version the header carried (always `WireProtocol.version` once decoded).
    public var version: UInt16 = WireProtocol.version

    public init(type: MessageType, runID: UInt64, step: UInt64, microShard: UInt32?, metaLength: UInt32,
                floatFrameCount: UInt32, floatCount: UInt64, payloadChecksum: UInt64) {
        self.type = type
        self.runID = runID
        self.step = step
        self.microShard = microShard
        self.metaLength = metaLength
        self.floatFrameCount = floatFrameCount
        self.floatCount = floatCount
        self.payloadChecksum = payloadChecksum
    }

    /// Size of the header frame.
    public static let size = 64
    static let magic: [UInt8] = Array("CNCL".utf8)
    static let noMicroShard: UInt32 = 0xFFFF_FFFF

    /// The header's 64 bytes, checksum included.
    public func encoded() -> [UInt8] {
        var writer = WireWriter(capacity: Self.size)
        writer.bytes(Self.magic)
        writer.u16(version)
        writer.u16(type.rawValue)
        writer.u32(0)
        writer.u32(metaLength)
        writer.u64(runID)
        writer.u64(step)
        writer.u32(microShard ?? Self.noMicroShard)
        writer.u32(floatFrameCount)
        writer.u64(floatCount)
        writer.u64(payloadChecksum)
        writer.u64(XXHash64.hash(writer.buffer))
        return writer.buffer
    }

    /// Decodes and validates a header frame: size, magic, version, checksum,
    /// type, flags, micro-shard presence and float presence, in that order.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> WireHeader {
        guard bytes.count >= size else { throw .truncated(what: "header frame", expected: size, actual: bytes.count) }
        guard bytes.count == size else { throw .oversized(what: "header frame", limit: size, actual: bytes.count) }
        var reader = WireReader(bytes, context: "header")
        let magic = try reader.bytes(4)
        guard magic == Self.magic else { throw .badMagic(magic) }
        // The version comes before the checksum, so a peer of another
        // version (whose header may differ) is named as such.
        let version = try reader.u16()
        guard version == WireProtocol.version else {
            throw .unsupportedVersion(received: version, supported: WireProtocol.version)
        }
        let carried = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 56, as: UInt64.self))
        let computed = XXHash64.hash(UnsafeRawBufferPointer(rebasing: bytes[0..<56]))
        guard carried == computed else { throw .headerChecksumMismatch(expected: carried, actual: computed) }
        let rawType = try reader.u16()
        guard let type = MessageType(rawValue: rawType) else { throw .unknownType(rawType) }
        let flags = try reader.u32()
        guard flags == 0 else { throw .malformed("header flags 0x\(String(flags, radix: 16)) are not defined in version \(version)") }
        let metaLength = try reader.u32()
        let runID = try reader.u64()
        let step = try reader.u64()
        let shard = try reader.u32()
        let floatFrameCount = try reader.u32()
        let floatCount = try reader.u64()
        let payloadChecksum = try reader.u64()
        let microShard: UInt32? = shard == noMicroShard ? nil : shard
        guard (microShard != nil) == type.namesMicroShard else {
            throw .malformed(type.namesMicroShard ? "a \(type) message must name a micro-shard"
                                                  : "a \(type) message names micro-shard \(shard)")
        }
        guard type.carriesFloats || (floatCount == 0 && floatFrameCount == 0) else {
            throw .malformed("a \(type) message carries no floats, this one declares \(floatCount)")
        }
        return WireHeader(type: type, runID: runID, step: step, microShard: microShard, metaLength: metaLength,
                          floatFrameCount: floatFrameCount, floatCount: floatCount, payloadChecksum: payloadChecksum)
    }
}

/// Constants of the wire protocol.
public enum WireProtocol {
    /// The protocol version this build speaks (peers must match exactly).
    public static let version: UInt16 = 1
    /// Floats per payload frame: 1 MiB frames, which loopback and TCP move
    /// far faster than single huge frames.
    public static let floatsPerFrame = 1 << 18
    /// Bytes per full payload frame.
    public static let bytesPerFloatFrame = floatsPerFrame * 4
    /// Longest string in metadata (names, hosts, reasons), in UTF-8 bytes.
    public static let maxStringBytes = 4096
    /// Number of payload frames for `floatCount` floats.
    public static func floatFrameCount(for floatCount: Int) -> Int {
        (floatCount + floatsPerFrame - 1) / floatsPerFrame
    }
}

/// Sizes a receiver accepts; anything larger is refused before it is read.
public struct ProtocolLimits: Sendable, Equatable {
    /// Largest metadata frame.
    public var maxMetaBytes: Int
    /// Most floats in one message (the largest weights or gradient).
    public var maxFloats: Int

    public init(maxMetaBytes: Int = 1 << 16, maxFloats: Int = 1 << 28) {
        self.maxMetaBytes = maxMetaBytes
        self.maxFloats = maxFloats
    }

    /// The ZMQ_MAXMSGSIZE a socket using these limits needs: its largest
    /// single frame plus slack for CURVE, which checks the limit against the
    /// encrypted frame (33 bytes larger). Peers sending larger frames are
    /// disconnected by libzmq.
    public var maxFrameBytes: Int { max(maxMetaBytes, WireProtocol.bytesPerFloatFrame, WireHeader.size, 256) + 4096 }

    /// The most frames one message may have (header, meta, float frames, and a routing id).
    public var maxFrames: Int { 3 + WireProtocol.floatFrameCount(for: maxFloats) }

    /// The most bytes one message may have over all its frames (routing id included).
    public var maxMessageBytes: Int { maxFloats * 4 + maxMetaBytes + WireHeader.size + 256 }
}
