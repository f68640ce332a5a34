import Testing
@testable import ConaclipTensor

@Suite("Linear")
struct LinearTests {
    let rows = 5, inF = 19, outF = 17

    /// Double-precision `x W^T + b`.
    func reference(x: [Float], w: [Float], b: [Float]?) -> [Double] {
        var y = [Double](repeating: 0, count: rows * outF)
        for r in 0..<rows {
            for o in 0..<outF {
                var s = b.map { Double($0[o]) } ?? 0
                for i in 0..<inF { s += Double(x[r * inF + i]) * Double(w[o * inF + i]) }
                y[r * outF + o] = s
            }
        }
        return y
    }

    func forward(x: [Float], w: [Float], b: [Float]?) -> [Float] {
        let xb = buffer(x), wb = buffer(w), yb = FloatBuffer(count: rows * outF)
        yb.pointer.update(repeating: .nan, count: yb.count)  // must be overwritten
        if let b {
            let bb = buffer(b)
            Linear.forward(x: xb.pointer, rows: rows, inFeatures: inF, outFeatures: outF,
                           weight: wb.pointer, bias: bb.pointer, y: yb.pointer)
        } else {
            Linear.forward(x: xb.pointer, rows: rows, inFeatures: inF, outFeatures: outF,
                           weight: wb.pointer, bias: nil, y: yb.pointer)
        }
        return yb.array
    }

    @Test func forwardMatchesNaiveProduct() {
        var rng = SplitMix64(seed: 1)
        let x = rng.array(rows * inF), w = rng.array(outF * inF), b = rng.array(outF)
        expectClose(forward(x: x, w: w, b: b), reference(x: x, w: w, b: b), "with bias")
        expectClose(forward(x: x, w: w, b: nil), reference(x: x, w: w, b: nil), "without bias")
    }

    @Test func backwardMatchesFiniteDifferences() {
        var rng = SplitMix64(seed: 2)
        let x = rng.array(rows * inF), w = rng.array(outF * inF), b = rng.array(outF)
        let r = rng.array(rows * outF)
        let dx = FloatBuffer(count: x.count), dw = FloatBuffer(count: w.count), db = FloatBuffer(count: b.count)
        let xb = buffer(x), wb = buffer(w), rb = buffer(r)
        Linear.backward(dy: rb.pointer, x: xb.pointer, rows: rows, inFeatures: inF, outFeatures: outF,
                        weight: wb.pointer, dx: dx.pointer, accumulateInput: false,
                        dWeight: dw.pointer, dBias: db.pointer)
        expectGradient("dx", analytic: dx.array,
                       numeric: numericGradient(of: x) { weightedSum(forward(x: $0, w: w, b: b), r) })
        expectGradient("dW", analytic: dw.array,
                       numeric: numericGradient(of: w) { weightedSum(forward(x: x, w: $0, b: b), r) })
        expectGradient("dBias", analytic: db.array,
                       numeric: numericGradient(of: b) { weightedSum(forward(x: x, w: w, b: $0), r) })
    }

    @Test func accumulateFlags() {
        var rng = SplitMix64(seed: 3)
        let x = buffer(rng.array(rows * inF)), w = buffer(rng.array(outF * inF)), dy = buffer(rng.array(rows * outF))
        // Fresh gradients from zero.
        let dx0 = FloatBuffer(count: rows * inF), dw0 = FloatBuffer(count: outF * inF), db0 = FloatBuffer(count: outF)
        Linear.backward(dy: dy.pointer, x: x.pointer, rows: rows, inFeatures: inF, outFeatures: outF,
                        weight: w.pointer, dx: dx0.pointer, accumulateInput: false,
                        dWeight: dw0.pointer, dBias: db0.pointer)
        let prior = rng.array(rows * inF), priorW = rng.array(outF * inF), priorB = rng.array(outF)
        // accumulateInput: dx = prior + grad; parameters always accumulate.
        let dx1 = buffer(prior), dw1 = buffer(priorW), db1 = buffer(priorB)
        Linear.backward(dy: dy.pointer, x: x.pointer, rows: rows, inFeatures: inF, outFeatures: outF,
                        weight: w.pointer, dx: dx1.pointer, accumulateInput: true,
                        dWeight: dw1.pointer, dBias: db1.pointer)
        expectClose(dx1.array, zip(prior, dx0.array).map { Double($0) + Double($1) }, "dx accumulated")
        expectClose(dw1.array, zip(priorW, dw0.array).map { Double($0) + Double($1) }, "dW accumulated")
        expectClose(db1.array, zip(priorB, db0.array).map { Double($0) + Double($1) }, "dBias accumulated")
        // Without accumulateInput, dx is overwritten whatever it held.
        let dx2 = buffer(prior)
        Linear.backward(dy: dy.pointer, x: x.pointer, rows: rows, inFeatures: inF, outFeatures: outF,
                        weight: w.pointer, dx: dx2.pointer, accumulateInput: false,
                        dWeight: dw1.pointer, dBias: nil)
        #expect(dx2.array == dx0.array)
    }

    @Test func optionalOutputsCanBeSkipped() {
        var rng = SplitMix64(seed: 4)
        let x = buffer(rng.array(rows * inF)), w = buffer(rng.array(outF * inF)), dy = buffer(rng.array(rows * outF))
        let dwFull = FloatBuffer(count: outF * inF), dwOnly = FloatBuffer(count: outF * inF)
        let dx = FloatBuffer(count: rows * inF), db = FloatBuffer(count: outF)
        Linear.backward(dy: dy.pointer, x: x.pointer, rows: rows, inFeatures: inF, outFeatures: outF,
                        weight: w.pointer, dx: dx.pointer, accumulateInput: false,
                        dWeight: dwFull.pointer, dBias: db.pointer)
        Linear.backward(dy: dy.pointer, x: x.pointer, rows: rows, inFeatures: inF, outFeatures: outF,
                        weight: w.pointer, dx: nil, accumulateInput: false,
                        dWeight: dwOnly.pointer, dBias: nil)
        #expect(dwOnly.array == dwFull.array)
        #expect(dwOnly.array.contains { $0 != 0 })
    }
}
