/// Row reductions and loads/stores shared by the kernels, written with
/// explicit `SIMD16<Float>` accumulators.
///
/// Elementwise loops in the kernels are plain pointer loops that the
/// optimiser vectorises by itself; reductions are not (float addition is not
/// associative, so the compiler keeps the scalar order), hence these helpers.
/// The summation order is fixed by the code, so results are bit-identical from
/// run to run and from process to process.
enum Vectorized {
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }

    @inline(__always)
    static func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
    }

    /// `sum(x[0..<n])`.
    @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        while i &+ 16 <= n {
            acc += load(x + i)
            i &+= 16
        }
        var s = acc.sum()
        while i < n { s += x[i]; i &+= 1 }
        return s
    }

    /// `sum(a[i] * b[i])`.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        while i &+ 16 <= n {
            acc += load(a + i) * load(b + i)
            i &+= 16
        }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i &+= 1 }
        return s
    }

    /// `sum((x[i] - center)^2)`.
    @inline(__always)
    static func sumSquaredDeviations(_ x: UnsafePointer<Float>, _ n: Int, center: Float) -> Float {
        var acc = SIMD16<Float>()
        let c = SIMD16<Float>(repeating: center)
        var i = 0
        while i &+ 16 <= n {
            let d = load(x + i) - c
            acc += d * d
            i &+= 16
        }
        var s = acc.sum()
        while i < n { let d = x[i] - center; s += d * d; i &+= 1 }
        return s
    }

    /// `max(x[0..<n])` (`-infinity` for `n == 0`). NaNs are skipped.
    @inline(__always)
    static func max(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m: Float = -.infinity
        var i = 0
        if n >= 16 {
            var acc = SIMD16<Float>(repeating: -.infinity)
            while i &+ 16 <= n {
                let v = load(x + i)
                acc.replace(with: v, where: v .> acc)
                i &+= 16
            }
            m = acc.max()
        }
        while i < n { if x[i] > m { m = x[i] }; i &+= 1 }
        return m
    }

    /// `max(|x[i]|)` (0 for `n == 0`).
    @inline(__always)
    static func maxMagnitude(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m: Float = 0
        var i = 0
        if n >= 16 {
            var acc = SIMD16<Float>()
            let signMask = SIMD16<UInt32>(repeating: 0x7FFF_FFFF)
            while i &+ 16 <= n {
                let bits = unsafeBitCast(load(x + i), to: SIMD16<UInt32>.self) & signMask
                let v = unsafeBitCast(bits, to: SIMD16<Float>.self)
                acc.replace(with: v, where: v .> acc)
                i &+= 16
            }
            m = acc.max()
        }
        while i < n { let v = x[i].magnitude; if v > m { m = v }; i &+= 1 }
        return m
    }

    /// `y[i] += x[i]`.
    @inline(__always)
    static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] += x[i] }
    }

    /// `y[i] *= a`.
    @inline(__always)
    static func scale(_ y: UnsafeMutablePointer<Float>, by a: Float, _ n: Int) {
        for i in 0..<n { y[i] *= a }
    }
}
