/// XXH64 (xxHash, 64-bit, seed 0 unless given): the wire protocol's payload
/// and header checksum.
///
/// Chosen over CRC-32C for speed: parameter gradients are megabytes per
/// message, and in pure Swift XXH64 runs at about 6 GB/s against 1.4 GB/s for
/// a slicing-by-8 CRC-32C on the same core (`conaclip bench transport`
/// measures it). Streaming: `update` may be called with pieces of any size
/// and gives the same value as hashing their concatenation at once.
/// Known answers: empty input 0xEF46DB3751D8E999; further vectors in the
/// tests come from the system libxxhash.
public struct XXHash64: Sendable {
    private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    private static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    private let seed: UInt64
    private var v1, v2, v3, v4: UInt64
    private var totalLength: UInt64 = 0
    /// Bytes not yet consumed by a full 32-byte stripe (fewer than 32).
    private var pending: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var pendingCount = 0

    /// A hash of nothing yet.
    public init(seed: UInt64 = 0) {
        self.seed = seed
        v1 = seed &+ Self.prime1 &+ Self.prime2
        v2 = seed &+ Self.prime2
        v3 = seed
        v4 = seed &- Self.prime1
    }

    @inline(__always) private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }
    @inline(__always) private static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
        rotl(acc &+ input &* prime2, 31) &* prime1
    }
    @inline(__always) private static func merge(_ acc: UInt64, _ value: UInt64) -> UInt64 {
        (acc ^ round(0, value)) &* prime1 &+ prime4
    }
    @inline(__always) private static func lane(_ base: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Adds `bytes` to the hash.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let count = bytes.count
        totalLength &+= UInt64(count)
        var offset = 0
        // Complete a stripe started by an earlier call.
        if pendingCount > 0 {
            let take = min(32 - pendingCount, count)
            withUnsafeMutableBytes(of: &pending) { stripe in
                stripe.baseAddress.unsafelyUnwrapped.advanced(by: pendingCount).copyMemory(from: base, byteCount: take)
            }
            pendingCount += take
            offset = take
            guard pendingCount == 32 else { return }
            let stripe = pending
            withUnsafeBytes(of: stripe) { raw in
                let p = raw.baseAddress.unsafelyUnwrapped
                v1 = Self.round(v1, Self.lane(p, 0)); v2 = Self.round(v2, Self.lane(p, 8))
                v3 = Self.round(v3, Self.lane(p, 16)); v4 = Self.round(v4, Self.lane(p, 24))
            }
            pendingCount = 0
        }
        // Whole stripes straight from the input.
        var a = v1, b = v2, c = v3, d = v4
        while count - offset >= 32 {
            a = Self.round(a, Self.lane(base, offset))
            b = Self.round(b, Self.lane(base, offset + 8))
            c = Self.round(c, Self.lane(base, offset + 16))
            d = Self.round(d, Self.lane(base, offset + 24))
            offset += 32
        }
        v1 = a; v2 = b; v3 = c; v4 = d
        // Keep the tail for the next call or the final value.
        if offset < count {
            let tail = count - offset
            withUnsafeMutableBytes(of: &pending) { stripe in
                stripe.baseAddress.unsafelyUnwrapped.copyMemory(from: base + offset, byteCount: tail)
            }
            pendingCount = tail
        }
    }

    /// Adds `bytes` to the hash.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The hash of everything added so far.
    public var value: UInt64 {
        var hash: UInt64
        if totalLength >= 32 {
            hash = Self.rotl(v1, 1) &+ Self.rotl(v2, 7) &+ Self.rotl(v3, 12) &+ Self.rotl(v4, 18)
            hash = Self.merge(hash, v1); hash = Self.merge(hash, v2)
            hash = Self.merge(hash, v3); hash = Self.merge(hash, v4)
        } else {
            hash = seed &+ Self.prime5
        }
        hash &+= totalLength
        let count = pendingCount
        withUnsafeBytes(of: pending) { raw in
            let p = raw.baseAddress.unsafelyUnwrapped
            var offset = 0
            while count - offset >= 8 {
                hash ^= Self.round(0, Self.lane(p, offset))
                hash = Self.rotl(hash, 27) &* Self.prime1 &+ Self.prime4
                offset += 8
            }
            if count - offset >= 4 {
                hash ^= UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) &* Self.prime1
                hash = Self.rotl(hash, 23) &* Self.prime2 &+ Self.prime3
                offset += 4
            }
            while offset < count {
                hash ^= UInt64(p.load(fromByteOffset: offset, as: UInt8.self)) &* Self.prime5
                hash = Self.rotl(hash, 11) &* Self.prime1
                offset += 1
            }
        }
        hash ^= hash >> 33
        hash &*= Self.prime2
        hash ^= hash >> 29
        hash &*= Self.prime3
        hash ^= hash >> 32
        return hash
    }

    /// The hash of `bytes`.
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        var hasher = XXHash64(seed: seed)
        hasher.update(bytes)
        return hasher.value
    }

    /// The hash of `bytes`.
    public static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }
}
