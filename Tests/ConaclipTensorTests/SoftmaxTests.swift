import Foundation
import Testing
@testable import ConaclipTensor

@Suite("Softmax")
struct SoftmaxTests {
    func forward(_ x: [Float], rows: Int, cols: Int) -> [Float] {
        let xb = buffer(x), y = FloatBuffer(count: x.count)
        Softmax.forward(x: xb.pointer, y: y.pointer, rows: rows, cols: cols)
        return y.array
    }

    static func reference(_ x: [Float], rows: Int, cols: Int) -> [Double] {
        var y: [Double] = []
        for r in 0..<rows {
            let row = x[(r * cols)..<((r + 1) * cols)].map(Double.init)
            let m = row.max() ?? 0
            let e = row.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            y += e.map { $0 / s }
        }
        return y
    }

    @Test(arguments: [(3, 5), (2, 16), (4, 37)])
    func forwardMatchesReference(rows: Int, cols: Int) {
        var rng = SplitMix64(seed: 30 + UInt64(cols))
        let x = rng.array(rows * cols, scale: 5)
        let y = forward(x, rows: rows, cols: cols)
        expectClose(y, Self.reference(x, rows: rows, cols: cols), rtol: 2e-6, atol: 1e-9, "softmax")
    }

    @Test func largeInputsStayFinite() {
        let cols = 20
        var x = [Float](repeating: -1000, count: 2 * cols)
        x[0] = 1000; x[1] = 999; x[2] = 3e38
        x[cols] = -3e38; x[cols + 5] = -1e30; x[cols + 7] = -999.5
        let y = forward(x, rows: 2, cols: cols)
        #expect(y.allSatisfy { $0.isFinite && $0 >= 0 })
        #expect(y[2] == 1)  // one dominant entry takes all the mass
        let ref = Self.reference(x, rows: 2, cols: cols)
        expectClose(Array(y[cols...]), Array(ref[cols...]), rtol: 2e-6, atol: 1e-9, "row 2")
        #expect(abs(y[cols...].reduce(0, +) - 1) < 1e-6)
    }

    @Test func backwardMatchesFiniteDifferences() {
        var rng = SplitMix64(seed: 31)
        let rows = 3, cols = 19
        let x = rng.array(rows * cols, scale: 2), r = rng.array(rows * cols)
        let yb = buffer(forward(x, rows: rows, cols: cols)), rb = buffer(r), dx = FloatBuffer(count: x.count)
        Softmax.backward(dy: rb.pointer, y: yb.pointer, dx: dx.pointer, rows: rows, cols: cols)
        expectGradient("softmax", analytic: dx.array, numeric: numericGradient(of: x) {
            weightedSum(forward($0, rows: rows, cols: cols), r)
        }, atol: 2e-4)
    }

    @Test func inPlace() {
        var rng = SplitMix64(seed: 32)
        let x = rng.array(2 * 23), dy = rng.array(2 * 23)
        let expected = forward(x, rows: 2, cols: 23)
        let b = buffer(x)
        Softmax.forward(x: b.pointer, y: b.pointer, rows: 2, cols: 23)
        #expect(b.array == expected)
        let dOut = FloatBuffer(count: dy.count), d = buffer(dy), dyb = buffer(dy)
        Softmax.backward(dy: dyb.pointer, y: b.pointer, dx: dOut.pointer, rows: 2, cols: 23)
        Softmax.backward(dy: d.pointer, y: b.pointer, dx: d.pointer, rows: 2, cols: 23)
        #expect(d.array == dOut.array)
    }
}
