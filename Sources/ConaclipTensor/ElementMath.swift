/// Branch-free scalar approximations of `exp` and the standard normal CDF.
///
/// They use only arithmetic, comparisons-as-selects and bit casts, so a plain
/// loop calling them is vectorised by the optimiser (a call into libm's
/// `expf`/`erff` would keep the loop scalar). Accuracy is within a few float
/// ulps; the tests check both against Foundation's double-precision functions.
enum ElementMath {
    /// `e^x` with about 1 ulp error (Cephes `expf` range reduction and
    /// polynomial). Returns 0 below -87.33 (where `expf` would go subnormal),
    /// saturates at `e^88.376` above, and propagates NaN.
    @inline(__always)
    static func exp(_ x0: Float) -> Float {
        let lo: Float = -87.33654, hi: Float = 88.37626
        var x = x0 > hi ? hi : x0
        x = x < lo ? lo : x
        // k = round(x / ln 2), via the 1.5 * 2^23 trick (no roundps on SSE2).
        let magic: Float = 12_582_912
        let shifted = x * 1.442_695_04 + magic
        let k = shifted - magic
        x = x - k * 0.693_359_375
        x = x + k * 2.121_944_4e-4
        var y: Float = 1.987_569_15e-4
        y = y * x + 1.398_199_95e-3
        y = y * x + 8.333_451_9e-3
        y = y * x + 4.166_579_59e-2
        y = y * x + 0.166_666_655
        y = y * x + 0.500_000_01
        y = y * (x * x) + x + 1
        // 2^k from the integer sitting in the low mantissa bits of `shifted`.
        let n = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000
        let scale = Float(bitPattern: UInt32(bitPattern: (n &+ 127) &<< 23))
        return x0 < lo ? 0 : y * scale
    }

    /// `Phi(x) = P(N(0,1) <= x) = (1 + erf(x / sqrt 2)) / 2`, together with
    /// `e^(-x^2/2)` (which the GELU derivative needs).
    ///
    /// With `z = x / sqrt 2`: for `|z| <= 1`, `erf(z) = z * A(z^2)`; beyond,
    /// `erfc(|z|) = e^(-z^2) * B(1/|z|)`, so the lower tail is computed without
    /// the cancellation of `1 + erf(z)`. `A` (degree 5) and `B` (degree 11) are
    /// least-squares fits on 2000 Chebyshev nodes of `erf(sqrt u)/sqrt u` on
    /// [0, 1] and of `erfc(1/t) e^(1/t^2)` on [0.1, 1], weighted by relative
    /// error, against mpmath at 40 digits; evaluated in float32 their relative
    /// errors are about 1.4e-7 and 2.3e-7.
    @inline(__always)
    static func normalCDF(_ x: Float) -> (cdf: Float, gaussian: Float) {
        let z = x * 0.707_106_77
        let z2 = z * z
        let e = exp(-z2)
        // Inner branch: erf(z) = z * A(z^2).
        var a: Float = -5.625_396e-4
        a = a * z2 + 4.916_023_5e-3
        a = a * z2 - 2.670_995e-2
        a = a * z2 + 0.112_801_306
        a = a * z2 - 0.376_123_2
        a = a * z2 + 1.128_379_1
        let inner = 0.5 + 0.5 * (z * a)
        // Tails: erfc(|z|) = e^(-z^2) * B(1/|z|).
        let az = z.magnitude
        let t = 1 / (az > 1 ? az : 1)
        var b: Float = -2.549_728e-3
        b = b * t - 3.522_471e-2
        b = b * t + 0.300_176_86
        b = b * t - 0.954_851_75
        b = b * t + 1.686_853_8
        b = b * t - 1.808_906_1
        b = b * t + 1.099_084_5
        b = b * t - 0.162_079
        b = b * t - 0.256_756_72
        b = b * t - 2.488_512_8e-3
        b = b * t + 0.564_328_25
        b = b * t - 3.325_046_5e-6
        let halfErfc = 0.5 * e * b
        let tail = z > 0 ? 1 - halfErfc : halfErfc
        return (az <= 1 ? inner : tail, e)
    }
}
