/// Row reductions and elementwise loops shared by the kernels.
///
/// Elementwise loops are plain pointer loops that the optimiser vectorises by
/// itself (see `map` for the in-place case). Float reductions are not
/// vectorised automatically (addition is not associative, so the compiler
/// keeps the scalar order), hence the explicit `SIMD16<Float>` accumulators
/// here. Every summation order is fixed by the code, so results are
/// bit-identical from run to run, process to process and build to build.
enum Vectorized {
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }

    @inline(__always)
    static func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
    }

    /// Sum of the 16 lanes as a pairwise tree (short dependency chain; the
    /// order is fixed, so the result is too).
    @inline(__always)
    static func reduceSum(_ v: SIMD16<Float>) -> Float {
        let a = v.lowHalf + v.highHalf
        let b = a.lowHalf + a.highHalf
        let c = b.lowHalf + b.highHalf
        return c[0] + c[1]
    }

    /// `y[i] = f(x[i])`. `y` may be `x`: then the loop runs over one pointer,
    /// because with two equal pointers the optimiser's overlap check would
    /// send every iteration down its scalar path.
    @inline(__always)
    static func map(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int,
                    _ f: (Float) -> Float) {
        if UnsafePointer(y) == x {
            for i in 0..<n { y[i] = f(y[i]) }
        } else {
            for i in 0..<n { y[i] = f(x[i]) }
        }
    }

    /// `out[i] = f(a[i], b[i])`. `out` may be `a` (same reasoning as `map`).
    @inline(__always)
    static func map(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                    _ n: Int, _ f: (Float, Float) -> Float) {
        if UnsafePointer(out) == a {
            for i in 0..<n { out[i] = f(out[i], b[i]) }
        } else {
            for i in 0..<n { out[i] = f(a[i], b[i]) }
        }
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
        var s = reduceSum(acc)
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
        var s = reduceSum(acc)
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
        var s = reduceSum(acc)
        while i < n { let d = x[i] - center; s += d * d; i &+= 1 }
        return s
    }

    /// `max(x[0..<n])` (`-infinity` for `n == 0`). NaNs are skipped.
    ///
    /// Eight scalar accumulators rather than a SIMD vector: the optimiser
    /// turns them into packed `max` instructions, whereas a masked SIMD
    /// `replace(with:where:)` often comes out as a compare-and-blend chain.
    @inline(__always)
    static func max(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m: Float = -.infinity
        var i = 0
        if n >= 8 {
            var a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m
            while i &+ 8 <= n {
                let p = x + i
                a0 = p[0] > a0 ? p[0] : a0
                a1 = p[1] > a1 ? p[1] : a1
                a2 = p[2] > a2 ? p[2] : a2
                a3 = p[3] > a3 ? p[3] : a3
                a4 = p[4] > a4 ? p[4] : a4
                a5 = p[5] > a5 ? p[5] : a5
                a6 = p[6] > a6 ? p[6] : a6
                a7 = p[7] > a7 ? p[7] : a7
                i &+= 8
            }
            a0 = a4 > a0 ? a4 : a0
            a1 = a5 > a1 ? a5 : a1
            a2 = a6 > a2 ? a6 : a2
            a3 = a7 > a3 ? a7 : a3
            a0 = a2 > a0 ? a2 : a0
            a1 = a3 > a1 ? a3 : a1
            m = a1 > a0 ? a1 : a0
        }
        while i < n { if x[i] > m { m = x[i] }; i &+= 1 }
        return m
    }

    /// `max(|x[i]|)` (0 for `n == 0`); only on the rare slow path of `L2Normalize`.
    static func maxMagnitude(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m: Float = 0
        for i in 0..<n where x[i].magnitude > m { m = x[i].magnitude }
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
