/// A seeded pseudo-random generator whose output is the same on every
/// platform, compiler and run: SplitMix64 (Steele, Lea and Flood 2014, the
/// generator Vigna recommends for seeding) for the bits, and Box-Muller for
/// normal samples.
///
/// Cross-platform reproducibility is the point, so the transcendental
/// functions Box-Muller needs (log, sin, cos) are computed here from IEEE
/// basic operations only (+, -, *, /, sqrt), never from the platform's libm,
/// whose last-bit rounding differs between glibc and Darwin. Used for weight
/// initialisation and anything else that must be bit-identical everywhere.
public struct DeterministicRandom: RandomNumberGenerator, Sendable, Equatable {
    /// The SplitMix64 state (advanced by the golden-ratio increment per draw).
    public private(set) var state: UInt64
    /// The second normal of the last Box-Muller pair, not yet handed out.
    private var spareNormal: Double?

    /// A generator whose sequence is a pure function of `seed`.
    public init(seed: UInt64) {
        state = seed
        spareNormal = nil
    }

    /// A generator for one named sub-stream of `seed` (for example one
    /// parameter tensor), independent of the order streams are created in.
    public init(seed: UInt64, stream: String) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a 64 over the UTF-8 bytes
        for byte in stream.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        self.init(seed: DeterministicRandom.mix(seed ^ DeterministicRandom.mix(hash)))
    }

    /// The SplitMix64 output function (a bijective 64-bit mixer).
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state = state &+ 0x9e37_79b9_7f4a_7c15
        return DeterministicRandom.mix(state)
    }

    /// Uniform in [0, 1), with 53 random bits.
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform integer in `0..<bound` (`bound >= 1`), unbiased by rejecting
    /// the few draws below `2^64 mod bound`; portable, unlike the standard
    /// library's `random(in:using:)`, whose algorithm is not specified.
    public mutating func nextIndex(below bound: Int) -> Int {
        precondition(bound >= 1, "nextIndex(below:) needs a positive bound")
        let b = UInt64(bound)
        let threshold = (0 &- b) % b
        while true {
            let x = next()
            if x >= threshold { return Int(x % b) }
        }
    }

    /// A standard normal sample (mean 0, variance 1) by the Box-Muller
    /// transform; each pair of uniforms yields two samples, handed out in turn.
    public mutating func nextNormal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        let u1 = Double((next() >> 11) + 1) * 0x1p-53  // (0, 1]: log is finite
        let u2 = Double(next() >> 11) * 0x1p-53  // [0, 1)
        let radius = (-2 * DeterministicRandom.naturalLog(u1)).squareRoot()
        let (sine, cosine) = DeterministicRandom.sinCos(turns: u2)
        spareNormal = radius * sine
        return radius * cosine
    }

    /// Fills `count` floats with `mean + std * N(0, 1)` samples.
    public mutating func fillNormal(_ pointer: UnsafeMutablePointer<Float>, count: Int, mean: Float = 0, std: Float) {
        for i in 0..<count {
            pointer[i] = Float(Double(mean) + Double(std) * nextNormal())
        }
    }

    // MARK: - Portable elementary functions (IEEE basic operations only)

    /// Natural logarithm of a positive, finite, normal `x`, accurate to a
    /// few ulps: x = m 2^e with m in [sqrt(1/2), sqrt(2)), then
    /// ln m = 2 atanh(s), s = (m - 1) / (m + 1), summed as a series.
    public static func naturalLog(_ x: Double) -> Double {
        var exponent = Int(x.exponent)
        var mantissa = x.significand  // [1, 2), exact
        if mantissa > 1.4142135623730951 {
            mantissa *= 0.5
            exponent += 1
        }
        let s = (mantissa - 1) / (mantissa + 1)  // |s| <= 0.1716
        let s2 = s * s
        // atanh(s)/s = sum s^(2k) / (2k + 1); s2^12 < 1e-18, so 13 terms suffice.
        var series = 1.0 / 25.0
        var k = 11
        while k >= 0 {
            series = series * s2 + 1.0 / Double(2 * k + 1)
            k -= 1
        }
        let lnTwoHigh = 6.93147180369123816490e-01  // ln 2 split so e * high is exact
        let lnTwoLow = 1.90821492927058770002e-10
        let e = Double(exponent)
        return e * lnTwoHigh + (2 * s * series + e * lnTwoLow)
    }

    /// `(sin(2 pi t), cos(2 pi t))` for `t` in [0, 1): the turn is cut into
    /// quarter turns exactly, then the remaining angle, at most pi/4 from the
    /// quarter's middle, is rotated by Taylor series.
    public static func sinCos(turns t: Double) -> (sin: Double, cos: Double) {
        let quarters = t * 4  // exact
        let quadrant = Int(quarters)  // 0...3
        let fraction = quarters - Double(quadrant)  // [0, 1), exact
        let angle = (fraction - 0.5) * (Double.pi / 2)  // [-pi/4, pi/4)
        let a2 = angle * angle
        // Taylor series to degree 21/20: (pi/4)^22 / 22! < 1e-22.
        var sinSeries = 0.0, cosSeries = 0.0
        var n = 10
        while n >= 1 {
            sinSeries = (1 - sinSeries) * a2 / Double((2 * n) * (2 * n + 1))
            cosSeries = (1 - cosSeries) * a2 / Double((2 * n - 1) * (2 * n))
            n -= 1
        }
        let sinA = angle * (1 - sinSeries)
        let cosA = 1 - cosSeries
        // Rotate by the quadrant's middle, (quadrant + 1/2) * pi/2.
        let h = 0.70710678118654752440  // sin(pi/4) = cos(pi/4)
        let sinMid = h * (sinA + cosA)  // sin(pi/4 + a)
        let cosMid = h * (cosA - sinA)  // cos(pi/4 + a)
        switch quadrant {
        case 0: return (sinMid, cosMid)
        case 1: return (cosMid, -sinMid)
        case 2: return (-sinMid, -cosMid)
        default: return (-cosMid, sinMid)
        }
    }
}
