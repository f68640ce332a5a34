import Testing
@testable import ConaclipTensor

@Suite("LayerNorm")
struct LayerNormTests {
    let eps: Float = 1e-5

    struct Output { var y: [Float]; var mean: [Float]; var rstd: [Float] }

    func forward(x: [Float], rows: Int, cols: Int, gamma: [Float], beta: [Float]) -> Output {
        let xb = buffer(x), gb = buffer(gamma), bb = buffer(beta)
        let y = FloatBuffer(count: x.count), mean = FloatBuffer(count: rows), rstd = FloatBuffer(count: rows)
        LayerNorm.forward(x: xb.pointer, rows: rows, cols: cols, gamma: gb.pointer, beta: bb.pointer, eps: eps,
                          y: y.pointer, mean: mean.pointer, rstd: rstd.pointer)
        return Output(y: y.array, mean: mean.array, rstd: rstd.array)
    }

    /// torch.nn.LayerNorm in Float64: biased variance, eps inside the root.
    func reference(x: [Float], rows: Int, cols: Int, gamma: [Float], beta: [Float]) -> (y: [Double], mean: [Double], rstd: [Double]) {
        var y = [Double](repeating: 0, count: x.count), means: [Double] = [], rstds: [Double] = []
        for r in 0..<rows {
            let row = x[(r * cols)..<((r + 1) * cols)].map(Double.init)
            let mean = row.reduce(0, +) / Double(cols)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(cols)
            let rstd = 1 / (variance + Double(eps)).squareRoot()
            for j in 0..<cols { y[r * cols + j] = (row[j] - mean) * rstd * Double(gamma[j]) + Double(beta[j]) }
            means.append(mean); rstds.append(rstd)
        }
        return (y, means, rstds)
    }

    @Test(arguments: [(3, 37), (2, 64), (4, 5)])
    func forwardMatchesReference(rows: Int, cols: Int) {
        var rng = SplitMix64(seed: 10 + UInt64(cols))
        let x = rng.array(rows * cols, scale: 3), gamma = rng.array(cols), beta = rng.array(cols)
        let out = forward(x: x, rows: rows, cols: cols, gamma: gamma, beta: beta)
        let ref = reference(x: x, rows: rows, cols: cols, gamma: gamma, beta: beta)
        expectClose(out.y, ref.y, rtol: 1e-5, atol: 1e-5, "y")
        expectClose(out.mean, ref.mean, rtol: 1e-5, atol: 1e-6, "mean")
        expectClose(out.rstd, ref.rstd, rtol: 1e-5, atol: 0, "rstd")
    }

    @Test func largeOffsetDoesNotCancel() {
        // Values 1000 + O(1): E[x^2] - E[x]^2 would lose every digit in float.
        var rng = SplitMix64(seed: 11)
        let rows = 2, cols = 48
        let x = rng.array(rows * cols).map { 1000 + $0 }
        let gamma = [Float](repeating: 1, count: cols), beta = [Float](repeating: 0, count: cols)
        let out = forward(x: x, rows: rows, cols: cols, gamma: gamma, beta: beta)
        let ref = reference(x: x, rows: rows, cols: cols, gamma: gamma, beta: beta)
        // The inputs themselves carry ~6e-5 absolute rounding at 1000.
        expectClose(out.y, ref.y, rtol: 1e-3, atol: 1e-3, "y")
        expectClose(out.rstd, ref.rstd, rtol: 1e-3, atol: 0, "rstd")
    }

    @Test(arguments: [21, 6])
    func backwardMatchesFiniteDifferences(cols: Int) {
        var rng = SplitMix64(seed: 12 + UInt64(cols))
        let rows = 3
        let x = rng.array(rows * cols, scale: 2), gamma = rng.array(cols), beta = rng.array(cols)
        let r = rng.array(rows * cols)
        let out = forward(x: x, rows: rows, cols: cols, gamma: gamma, beta: beta)
        let dx = FloatBuffer(count: x.count), dg = FloatBuffer(count: cols), db = FloatBuffer(count: cols)
        let xb = buffer(x), rb = buffer(r), gb = buffer(gamma), mb = buffer(out.mean), sb = buffer(out.rstd)
        LayerNorm.backward(dy: rb.pointer, x: xb.pointer, mean: mb.pointer, rstd: sb.pointer,
                           rows: rows, cols: cols, gamma: gb.pointer,
                           dx: dx.pointer, accumulateInput: false, dGamma: dg.pointer, dBeta: db.pointer)
        expectGradient("dx", analytic: dx.array, numeric: numericGradient(of: x) {
            weightedSum(forward(x: $0, rows: rows, cols: cols, gamma: gamma, beta: beta).y, r)
        })
        expectGradient("dGamma", analytic: dg.array, numeric: numericGradient(of: gamma) {
            weightedSum(forward(x: x, rows: rows, cols: cols, gamma: $0, beta: beta).y, r)
        })
        expectGradient("dBeta", analytic: db.array, numeric: numericGradient(of: beta) {
            weightedSum(forward(x: x, rows: rows, cols: cols, gamma: gamma, beta: $0).y, r)
        })
    }

    @Test func accumulateFlags() {
        var rng = SplitMix64(seed: 13)
        let rows = 2, cols = 35
        let x = rng.array(rows * cols), gamma = rng.array(cols), beta = rng.array(cols), dy = rng.array(rows * cols)
        let out = forward(x: x, rows: rows, cols: cols, gamma: gamma, beta: beta)
        let xb = buffer(x), dyb = buffer(dy), gb = buffer(gamma), mb = buffer(out.mean), sb = buffer(out.rstd)
        func run(dx: [Float], accumulate: Bool, dGamma: [Float], dBeta: [Float]) -> ([Float], [Float], [Float]) {
            let dxb = buffer(dx), dgb = buffer(dGamma), dbb = buffer(dBeta)
            LayerNorm.backward(dy: dyb.pointer, x: xb.pointer, mean: mb.pointer, rstd: sb.pointer,
                               rows: rows, cols: cols, gamma: gb.pointer,
                               dx: dxb.pointer, accumulateInput: accumulate, dGamma: dgb.pointer, dBeta: dbb.pointer)
            return (dxb.array, dgb.array, dbb.array)
        }
        let zeros = [Float](repeating: 0, count: rows * cols), zc = [Float](repeating: 0, count: cols)
        let fresh = run(dx: zeros, accumulate: false, dGamma: zc, dBeta: zc)
        let prior = rng.array(rows * cols), pg = rng.array(cols), pb = rng.array(cols)
        let acc = run(dx: prior, accumulate: true, dGamma: pg, dBeta: pb)
        expectClose(acc.0, zip(prior, fresh.0).map { Double($0) + Double($1) }, "dx accumulated")
        expectClose(acc.1, zip(pg, fresh.1).map { Double($0) + Double($1) }, "dGamma accumulated")
        expectClose(acc.2, zip(pb, fresh.2).map { Double($0) + Double($1) }, "dBeta accumulated")
        let over = run(dx: prior, accumulate: false, dGamma: zc, dBeta: zc)
        #expect(over.0 == fresh.0)
        // dx may alias dy when overwriting.
        let shared = buffer(dy), dgb = FloatBuffer(count: cols), dbb = FloatBuffer(count: cols)
        LayerNorm.backward(dy: shared.pointer, x: xb.pointer, mean: mb.pointer, rstd: sb.pointer,
                           rows: rows, cols: cols, gamma: gb.pointer,
                           dx: shared.pointer, accumulateInput: false, dGamma: dgb.pointer, dBeta: dbb.pointer)
        #expect(shared.array == fresh.0)
    }
}
