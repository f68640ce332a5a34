/// The floats of a received message, still in the frames libzmq filled
/// (no copy yet). Already checksummed and, where the type requires it,
/// checked to be finite. Copy them once into the buffer that uses them.
public struct FloatPayload: Sendable {
    /// The payload frames, each a whole number of floats.
    public let frames: [ZeroMQFrame]
    /// Number of floats over all frames.
    public let count: Int

    /// An empty payload.
    public static let empty = FloatPayload(frames: [], count: 0)

    init(frames: [ZeroMQFrame], count: Int) {
        self.frames = frames
        self.count = count
    }

    /// Copies the floats into `destination`, which must hold exactly `count`.
    public func copy(into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(destination.count == count, "destination holds \(destination.count) floats, the payload \(count)")
        guard let base = destination.baseAddress else { return }
        var offset = 0
        for frame in frames {
            frame.withUnsafeBytes { bytes in
                let floats = bytes.count / 4
                UnsafeMutableRawPointer(base + offset).copyMemory(from: bytes.baseAddress.unsafelyUnwrapped, byteCount: floats * 4)
                #if _endian(big)
                for index in offset..<(offset + floats) { base[index] = Float(bitPattern: UInt32(littleEndian: base[index].bitPattern)) }
                #endif
                offset += floats
            }
        }
    }

    /// The floats as a new array.
    public var array: [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            copy(into: UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
            initialized = count
        }
    }
}

/// Float checks shared by the encoder and the decoder.
enum FloatChecks {
    /// The index of the first NaN or infinity among `count` float32 bit
    /// patterns at `base`, or nil if all are finite.
    static func firstNonFinite(_ base: UnsafeRawPointer, count: Int) -> Int? {
        // An exponent of all ones is NaN or infinity: the magnitude bits are
        // then at least 0x7F80_0000. Take their maximum branch-free first
        // (a vectorised max), then find the index only if needed.
        let words = base.assumingMemoryBound(to: UInt32.self)
        var largest: UInt32 = 0
        for index in 0..<count {
            largest = max(largest, UInt32(littleEndian: words[index]) & 0x7FFF_FFFF)
        }
        guard largest >= 0x7F80_0000 else { return nil }
        return (0..<count).first { UInt32(littleEndian: words[$0]) & 0x7F80_0000 == 0x7F80_0000 }
    }
}
