/// Branch-free scalar approximations of `exp` and the standard normal CDF.
///
/// They use only arithmetic, comparisons-as-selects and bit casts, so a plain
/// loop calling them is vectorised by the optimiser (a call into libm's
/// `expf`/`erff` would keep the loop scalar). Only IEEE basic operations are
/// used, in a fixed order and without fused multiply-adds, so the results do
/// not depend on libm or on the vector width the compiler picks (checked: the
/// same bits from debug, SSE2, AVX2 and AVX-512 builds). The tests check both
/// functions against Foundation's double-precision ones.
enum ElementMath {
    /// `e^x` within 1 ulp (Cephes `expf` range reduction and polynomial;
    /// measured worst relative error 8.2e-8). Returns 0 below -87.33 (where
    /// `expf` would go subnormal), saturates at `e^88.376` above, and
    /// propagates NaN.
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
        // The degree-5 polynomial in Estrin form: shorter dependency chains
        // than Horner's, so consecutive vectors overlap in the pipeline.
        let x2 = x * x
        let c01 = 1.987_569_15e-4 * x + 1.398_199_95e-3
        let c23 = 8.333_451_9e-3 * x + 4.166_579_59e-2
        let c45 = 0.166_666_655 * x + 0.500_000_01
        let y = (c01 * x2 + c23) * x2 + c45
        let r = y * x2 + x + 1
        // 2^k from the integer sitting in the low mantissa bits of `shifted`.
        let n = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000
        let scale = Float(bitPattern: UInt32(bitPattern: (n &+ 127) &<< 23))
        return x0 < lo ? 0 : r * scale
    }

    /// `Phi(x) = P(N(0,1) <= x) = (1 + erf(x / sqrt 2)) / 2`, together with
    /// `e^(-x^2/2)` (which the GELU derivative needs).
    ///
    /// Computes the lower tail `Phi(-|x|) = erfc(z) / 2` (`z = |x| / sqrt 2`)
    /// as `e^(-z^2) * P(t)` with `t = 1 / (1 + z/2)` (the form of Numerical
    /// Recipes' `erfcc`), then reflects; so the lower tail keeps its relative
    /// accuracy instead of losing it to the cancellation in `1 + erf`. `P`
    /// (degree 9) is a least-squares fit of `erfc(z) e^(z^2)` on 1500
    /// Chebyshev nodes in t over z in [0, 9.2], weighted by relative error,
    /// against mpmath at 40 digits; evaluated in float32 its relative error
    /// is below 3e-7.
    @inline(__always)
    static func normalCDF(_ x: Float) -> (cdf: Float, gaussian: Float) {
        let z = x.magnitude * 0.707_106_77
        let t = 1 / (1 + 0.5 * z)
        // P(t) = sum c_i t^i in Estrin form (pairs, then powers t^2, t^4, t^8).
        let t2 = t * t, t4 = t2 * t2
        let p01 = 0.2822633385658264 * t - 8.048650670389179e-06
        let p23 = 0.25157469511032104 * t + 0.280732125043869
        let p45 = 0.027292437851428986 * t + 0.17591890692710876
        let p67 = -0.43186989426612854 * t + 0.2086213231086731
        let p89 = -0.054276686161756516 * t + 0.2597517669200897
        let low = p23 * t2 + p01
        let high = p67 * t2 + p45
        let p = (p89 * t4 + high) * t4 + low
        // e^(-z^2) = e^(-x^2/2): x*x rounds once, the halving is exact.
        let e = exp(-0.5 * (x * x))
        let lowerTail = 0.5 * e * p
        return (x > 0 ? 1 - lowerTail : lowerTail, e)
    }
}
