/// Bit-exact conversions between Float32 and the two 16-bit float formats
/// checkpoints use: IEEE half precision (F16) and bfloat16 (BF16).
///
/// Widening is exact for every input, including subnormals, infinities and
/// NaN payloads. Narrowing rounds to nearest, ties to even, as IEEE 754 and
/// torch do: values past the largest finite number round to infinity, tiny
/// values to subnormals or signed zero, and NaN stays a quiet NaN with its
/// sign. Implemented on bit patterns so results do not depend on the
/// platform's `Float16` support.
public enum HalfPrecision {
    /// The Float32 value of an F16 bit pattern.
    @inlinable
    public static func float(fromFloat16 h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x03FF)
        if exponent == 0x1F {
            // Infinity (mantissa 0) or NaN (payload kept in the top mantissa bits).
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            // Zero or subnormal: mantissa * 2^-24, exact in Float32.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    /// The F16 bit pattern nearest to `value` (ties to even).
    @inlinable
    public static func float16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
        let exponent = Int((bits >> 23) & 0xFF)
        let mantissa = bits & 0x007F_FFFF
        if exponent == 0xFF {
            if mantissa == 0 { return sign | 0x7C00 }
            return sign | 0x7E00 | UInt16(truncatingIfNeeded: mantissa >> 13)
        }
        let halfExponent = exponent - 127 + 15
        if halfExponent >= 0x1F { return sign | 0x7C00 }
        if halfExponent >= 1 {
            var h = UInt32(halfExponent << 10) | (mantissa >> 13)
            let rest = mantissa & 0x1FFF
            if rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1) {
                h += 1  // A carry into the exponent is the correct result, up to infinity.
            }
            return sign | UInt16(truncatingIfNeeded: h)
        }
        // Subnormal or zero in F16: the value in units of 2^-24 is significand * 2^(halfExponent - 14).
        let shift = 14 - halfExponent
        if shift > 24 { return sign }
        let significand = mantissa | 0x0080_0000
        var h = significand >> UInt32(shift)
        let rest = significand & ((1 << UInt32(shift)) - 1)
        let halfway: UInt32 = 1 << UInt32(shift - 1)
        if rest > halfway || (rest == halfway && (h & 1) == 1) { h += 1 }
        return sign | UInt16(truncatingIfNeeded: h)
    }

    /// The Float32 value of a BF16 bit pattern (exact: BF16 is the top half of a Float32).
    @inlinable
    public static func float(fromBFloat16 b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }

    /// The BF16 bit pattern nearest to `value` (ties to even); NaN becomes a quiet NaN.
    @inlinable
    public static func bfloat16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    // MARK: - Bulk conversion between little-endian bytes and floats

    /// Widens `count` little-endian F16 values at `source` (any alignment) into `destination`.
    public static func widenFloat16(_ source: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let h = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            destination[i] = float(fromFloat16: h)
        }
    }

    /// Widens `count` little-endian BF16 values at `source` (any alignment) into `destination`.
    public static func widenBFloat16(_ source: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let b = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            destination[i] = float(fromBFloat16: b)
        }
    }

    /// Narrows `count` floats to little-endian F16 bytes at `destination` (any alignment).
    public static func narrowToFloat16(_ source: UnsafePointer<Float>, into destination: UnsafeMutableRawPointer, count: Int) {
        for i in 0..<count {
            destination.storeBytes(of: float16Bits(from: source[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
        }
    }

    /// Narrows `count` floats to little-endian BF16 bytes at `destination` (any alignment).
    public static func narrowToBFloat16(_ source: UnsafePointer<Float>, into destination: UnsafeMutableRawPointer, count: Int) {
        for i in 0..<count {
            destination.storeBytes(of: bfloat16Bits(from: source[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
        }
    }
}
