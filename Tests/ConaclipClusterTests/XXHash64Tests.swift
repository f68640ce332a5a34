import Testing
@testable import ConaclipCluster

/// XXH64 against the system's libxxhash 0.8.1. The expected values were
/// produced by hand with:
///
///     python3 -c "import ctypes; l=ctypes.CDLL('libxxhash.so.0'); l.XXH64.restype=ctypes.c_uint64
///     l.XXH64.argtypes=[ctypes.c_char_p,ctypes.c_size_t,ctypes.c_uint64]
///     for n in [...]: b=bytes(((i*31+7)&0xff) for i in range(n)); print(n, hex(l.XXH64(b,n,0)), hex(l.XXH64(b,n,0x9E3779B97F4A7C15)))"
@Suite struct XXHash64Tests {
    static let vectors: [(length: Int, seed0: UInt64, seeded: UInt64)] = [
        (0, 0xef46db3751d8e999, 0xc4349fc93c010000),
        (1, 0xa96c7f0ce858bbb7, 0x585882422a6165e7),
        (3, 0x56e6957632a487f9, 0x5acb303e78133c22),
        (4, 0xc60d15b1e3ff8f04, 0x7d51d5e2461732b3),
        (5, 0x808815858624dd4e, 0x7f8b72856a42bb63),
        (7, 0xafbefc3d6c6f9a8e, 0x2ce9adec2b2c8104),
        (8, 0x3da5c7aa269683e0, 0x758848f033fa76a2),
        (9, 0x4b17a9ba9e215c09, 0xd4576cf554b7d929),
        (31, 0x4a74f3a1a39ad4a1, 0x8137041f5af88413),
        (32, 0x8d57d6a4671cc43d, 0x184ebcf3745cd46c),
        (33, 0x62c9fd21ed857664, 0x52fac3c981f3cc2e),
        (63, 0x5c320a0d2707057f, 0x64ef99a2e94cc7bd),
        (64, 0x7bbabbc45729d17e, 0xf7f22435fe1ab128),
        (100, 0xefa0ad2d3e70c151, 0xbc7ab33be7528c18),
        (1000, 0x99594f4828043d35, 0xda717f741f399f3f),
        ((1 << 20) + 5, 0xf05249148f6c93b4, 0xc3e9432eadbcf125),
    ]

    static func pattern(_ length: Int) -> [UInt8] { (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) } }

    @Test func matchesLibxxhash() {
        for vector in Self.vectors {
            let bytes = Self.pattern(vector.length)
            #expect(XXHash64.hash(bytes) == vector.seed0, "length \(vector.length)")
            #expect(XXHash64.hash(bytes, seed: 0x9E37_79B9_7F4A_7C15) == vector.seeded, "length \(vector.length), seeded")
        }
    }

    @Test func streamingInPiecesEqualsOneShot() {
        let bytes = Self.pattern(1000)
        var rng = SplitMix64(seed: 7)
        for _ in 0..<50 {
            var hasher = XXHash64()
            var offset = 0
            while offset < bytes.count {
                let piece = min(Int.random(in: 0...70, using: &rng), bytes.count - offset)
                bytes.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + piece)])) }
                offset += piece
            }
            #expect(hasher.value == 0x99594f4828043d35)
        }
    }
}
