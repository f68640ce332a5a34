import Testing
@testable import ConaclipTensor

@Suite("L2Normalize")
struct L2NormalizeTests {
    func forward(_ x: [Float], rows: Int, cols: Int) -> (y: [Float], norms: [Float]) {
        let xb = buffer(x), y = FloatBuffer(count: x.count), n = FloatBuffer(count: rows)
        L2Normalize.forward(x: xb.pointer, rows: rows, cols: cols, y: y.pointer, norms: n.pointer)
        return (y.array, n.array)
    }

    func backward(_ dy: [Float], y: [Float], norms: [Float], rows: Int, cols: Int) -> [Float] {
        let dyb = buffer(dy), yb = buffer(y), nb = buffer(norms), dx = FloatBuffer(count: dy.count)
        L2Normalize.backward(dy: dyb.pointer, y: yb.pointer, norms: nb.pointer, rows: rows, cols: cols, dx: dx.pointer)
        return dx.array
    }

    static func reference(_ x: [Float], rows: Int, cols: Int) -> (y: [Double], norms: [Double]) {
        var y: [Double] = [], norms: [Double] = []
        for r in 0..<rows {
            let row = x[(r * cols)..<((r + 1) * cols)].map(Double.init)
            let n = row.map { $0 * $0 }.reduce(0, +).squareRoot()
            norms.append(n)
            y += row.map { n == 0 ? 0 : $0 / n }
        }
        return (y, norms)
    }

    @Test(arguments: [5, 32, 45])
    func forwardMatchesReference(cols: Int) {
        var rng = SplitMix64(seed: 70 + UInt64(cols))
        let x = rng.array(3 * cols, scale: 4)
        let out = forward(x, rows: 3, cols: cols), ref = Self.reference(x, rows: 3, cols: cols)
        expectClose(out.y, ref.y, rtol: 1e-6, atol: 1e-7, "y")
        expectClose(out.norms, ref.norms, rtol: 1e-6, atol: 0, "norms")
    }

    @Test func extremeMagnitudesStillNormalise() {
        var rng = SplitMix64(seed: 71)
        let cols = 33
        let base = rng.array(cols)
        for scale: Float in [1e30, 3e35, 1e-30, Float.leastNormalMagnitude / 100] {
            let x = base.map { $0 * scale }
            let out = forward(x, rows: 1, cols: cols)
            let ref = Self.reference(base, rows: 1, cols: cols)
            // Subnormal inputs (1e-40) carry only a few significant bits themselves.
            let tolerance: Double = scale < 1e-37 ? 1e-3 : 1e-6
            expectClose(out.y, ref.y, rtol: tolerance, atol: tolerance * 0.1, "scale \(scale)")
            #expect(out.norms[0].isFinite && out.norms[0] > 0)
        }
    }

    @Test func zeroRowStaysZeroWithoutNaN() {
        let cols = 20
        var x = [Float](repeating: 0, count: 2 * cols)
        for j in 0..<cols { x[cols + j] = Float(j) - 9.5 }
        let out = forward(x, rows: 2, cols: cols)
        #expect(out.norms[0] == 0)
        #expect(out.y[..<cols].allSatisfy { $0 == 0 })
        var rng = SplitMix64(seed: 72)
        let dx = backward(rng.array(2 * cols), y: out.y, norms: out.norms, rows: 2, cols: cols)
        #expect(dx.allSatisfy { $0.isFinite })
        #expect(dx[..<cols].allSatisfy { $0 == 0 })
        #expect(dx[cols...].contains { $0 != 0 })
    }

    @Test func backwardMatchesFiniteDifferences() {
        var rng = SplitMix64(seed: 73)
        let rows = 3, cols = 21
        let x = rng.array(rows * cols, scale: 2), r = rng.array(rows * cols)
        let out = forward(x, rows: rows, cols: cols)
        let dx = backward(r, y: out.y, norms: out.norms, rows: rows, cols: cols)
        expectGradient("dx", analytic: dx, numeric: numericGradient(of: x) {
            weightedSum(forward($0, rows: rows, cols: cols).y, r)
        }, atol: 2e-4)
    }

    @Test func inPlace() {
        var rng = SplitMix64(seed: 74)
        let x = rng.array(2 * 19), dy = rng.array(2 * 19)
        let expected = forward(x, rows: 2, cols: 19)
        let b = buffer(x), n = FloatBuffer(count: 2)
        L2Normalize.forward(x: b.pointer, rows: 2, cols: 19, y: b.pointer, norms: n.pointer)
        #expect(b.array == expected.y)
        let d = buffer(dy)
        L2Normalize.backward(dy: d.pointer, y: b.pointer, norms: n.pointer, rows: 2, cols: 19, dx: d.pointer)
        #expect(d.array == backward(dy, y: expected.y, norms: expected.norms, rows: 2, cols: 19))
    }
}
