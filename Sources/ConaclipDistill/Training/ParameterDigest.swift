import Crypto

/// SHA-256 of a parameter store's values, the identity of a set of weights.
///
/// Two runs that should be bit-identical (same seed, another micro-shard
/// schedule, a resumed run) are compared by this digest: it covers the raw
/// float32 bytes in the store's flat layout, so one flipped bit changes it.
public enum ParameterDigest {
    /// Lower-case hex SHA-256 of the `count` floats at `pointer`.
    public static func sha256(_ pointer: UnsafePointer<Float>, count: Int) -> String {
        let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer), count: count * MemoryLayout<Float>.stride)
        return SHA256.hash(data: bytes).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// Lower-case hex SHA-256 of every value of `store`.
    public static func sha256(of store: ParameterStore) -> String {
        sha256(store.values.pointer, count: store.count)
    }
}
