import Foundation
import Testing
@testable import ConaclipDistill

/// A naive Double-precision implementation of CLIP's symmetric InfoNCE,
/// written from the definition in METHOD.md, independent of the library.
private struct ReferenceCLIPLoss {
    let n: Int, d: Int

    func normalized(_ u: [Double]) -> [Double] {
        var x = u
        for i in 0..<n {
            let norm = (0..<d).map { u[i * d + $0] * u[i * d + $0] }.reduce(0, +).squareRoot()
            for k in 0..<d { x[i * d + k] = norm == 0 ? 0 : u[i * d + k] / norm }
        }
        return x
    }

    func scale(_ logitScale: Double) -> Double { min(exp(logitScale), 100) }

    func loss(_ u: [Double], _ v: [Double], logitScale: Double) -> Double {
        let x = normalized(u), y = normalized(v), s = scale(logitScale)
        var z = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n {
            z[i * n + j] = s * (0..<d).map { x[i * d + $0] * y[j * d + $0] }.reduce(0, +)
        } }
        var rows = 0.0, cols = 0.0
        for i in 0..<n {
            rows += log((0..<n).map { exp(z[i * n + $0]) }.reduce(0, +)) - z[i * n + i]
            cols += log((0..<n).map { exp(z[$0 * n + i]) }.reduce(0, +)) - z[i * n + i]
        }
        return (rows / Double(n) + cols / Double(n)) / 2
    }

    /// Analytic gradients w.r.t. raw u, v and logit_scale (clamp-aware).
    func gradients(_ u: [Double], _ v: [Double], logitScale: Double) -> (du: [Double], dv: [Double], dls: Double) {
        let x = normalized(u), y = normalized(v), s = scale(logitScale)
        var m = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n {
            m[i * n + j] = (0..<d).map { x[i * d + $0] * y[j * d + $0] }.reduce(0, +)
        } }
        var g = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            let rowSum = (0..<n).map { exp(s * m[i * n + $0]) }.reduce(0, +)
            for j in 0..<n {
                let colSum = (0..<n).map { exp(s * m[$0 * n + j]) }.reduce(0, +)
                let r = exp(s * m[i * n + j]) / rowSum, c = exp(s * m[i * n + j]) / colSum
                g[i * n + j] = (r + c - (i == j ? 2 : 0)) / Double(2 * n)
            }
        }
        var dx = [Double](repeating: 0, count: n * d), dy = dx
        for i in 0..<n { for k in 0..<d { for j in 0..<n {
            dx[i * d + k] += s * g[i * n + j] * y[j * d + k]
            dy[i * d + k] += s * g[j * n + i] * x[j * d + k]
        } } }
        func back(_ raw: [Double], _ unit: [Double], _ grad: [Double]) -> [Double] {
            var out = grad
            for i in 0..<n {
                let norm = (0..<d).map { raw[i * d + $0] * raw[i * d + $0] }.reduce(0, +).squareRoot()
                let dot = (0..<d).map { unit[i * d + $0] * grad[i * d + $0] }.reduce(0, +)
                for k in 0..<d { out[i * d + k] = (grad[i * d + k] - unit[i * d + k] * dot) / norm }
            }
            return out
        }
        let dlds = zip(g, m).map { $0 * $1 }.reduce(0, +)
        let dls = exp(logitScale) > 100 ? 0 : s * dlds
        return (back(u, x, dx), back(v, y, dy), dls)
    }
}

/// Runs the library loss on Float inputs with full-batch gradients.
private func evaluate(_ loss: ContrastiveLoss, _ u: [Float], _ v: [Float], n: Int, d: Int, logitScale: Float)
    throws -> (result: ContrastiveLossResult, du: [Float], dv: [Float]) {
    var du = [Float](repeating: .nan, count: n * d), dv = du
    let result = try u.withUnsafeBufferPointer { up in
        try v.withUnsafeBufferPointer { vp in
            try du.withUnsafeMutableBufferPointer { dup in
                try dv.withUnsafeMutableBufferPointer { dvp in
                    try loss.evaluate(image: up.baseAddress!, text: vp.baseAddress!, rows: n, dim: d,
                                      logitScale: logitScale,
                                      gradients: ContrastiveGradientOutput(image: dup.baseAddress!, text: dvp.baseAddress!))
                }
            }
        }
    }
    return (result, du, dv)
}

@Suite("Contrastive (CLIP task) loss")
struct ContrastiveLossTests {
    @Test("value and gradients match a naive Double reference")
    func matchesReference() throws {
        let n = 7, d = 5
        var rng = TestRandom(seed: 1)
        // Raw embeddings with varied row norms, so the normalisation matters.
        let u = (0..<n).flatMap { i in rng.floats(d, scale: 0.5 + Float(i)) }
        let v = rng.floats(n * d, scale: 3)
        let ls: Float = 2.0
        let ref = ReferenceCLIPLoss(n: n, d: d)
        let (result, du, dv) = try evaluate(ContrastiveLoss(), u, v, n: n, d: d, logitScale: ls)
        let ud = u.map(Double.init), vd = v.map(Double.init)
        let expectedLoss = ref.loss(ud, vd, logitScale: Double(ls))
        let g = ref.gradients(ud, vd, logitScale: Double(ls))

        #expect(abs(Double(result.loss) - expectedLoss) <= 1e-5 * expectedLoss)
        #expect(result.scale == Float(exp(2.0)))
        #expect(!result.isScaleClamped)
        #expect(maxAbsDiff(du, g.du) <= 2e-6 * maxAbs(g.du))
        #expect(maxAbsDiff(dv, g.dv) <= 2e-6 * maxAbs(g.dv))
        #expect(abs(Double(result.logitScaleGradient) - g.dls) <= 1e-5 * abs(g.dls))
    }

    @Test("gradients match central finite differences of the Double loss")
    func matchesFiniteDifferences() throws {
        let n = 5, d = 4
        var rng = TestRandom(seed: 2)
        let u = rng.floats(n * d, scale: 2), v = rng.floats(n * d, scale: 0.7)
        let ls: Float = 1.5
        let ref = ReferenceCLIPLoss(n: n, d: d)
        let (result, du, dv) = try evaluate(ContrastiveLoss(), u, v, n: n, d: d, logitScale: ls)
        let ud = u.map(Double.init), vd = v.map(Double.init), h = 1e-6
        func fd(_ f: (Double) -> Double) -> Double { (f(h) - f(-h)) / (2 * h) }
        var numericU = [Double](), numericV = [Double]()
        for k in 0..<(n * d) {
            numericU.append(fd { e in var w = ud; w[k] += e; return ref.loss(w, vd, logitScale: Double(ls)) })
            numericV.append(fd { e in var w = vd; w[k] += e; return ref.loss(ud, w, logitScale: Double(ls)) })
        }
        let numericLS = fd { e in ref.loss(ud, vd, logitScale: Double(ls) + e) }
        #expect(maxAbsDiff(du, numericU) <= 1e-5 * maxAbs(numericU))
        #expect(maxAbsDiff(dv, numericV) <= 1e-5 * maxAbs(numericV))
        #expect(abs(Double(result.logitScaleGradient) - numericLS) <= 1e-5 * abs(numericLS))
        #expect(abs(numericLS) > 1e-3)  // the check above is not vacuous
    }

    @Test("the scale is clamped at 100 with zero logit-scale gradient")
    func clamp() throws {
        let n = 6, d = 3
        var rng = TestRandom(seed: 3)
        let u = rng.floats(n * d), v = rng.floats(n * d)
        let loss = ContrastiveLoss()
        let high = try evaluate(loss, u, v, n: n, d: d, logitScale: 5)    // exp(5) = 148
        let higher = try evaluate(loss, u, v, n: n, d: d, logitScale: 9)
        let below = try evaluate(loss, u, v, n: n, d: d, logitScale: 4.5) // exp(4.5) = 90
        #expect(high.result.isScaleClamped && higher.result.isScaleClamped)
        #expect(high.result.scale == 100 && high.result.logitScaleGradient == 0)
        #expect(high.result.loss == higher.result.loss && high.du == higher.du && high.dv == higher.dv)
        let ref = ReferenceCLIPLoss(n: n, d: d)
        let expected = ref.loss(u.map(Double.init), v.map(Double.init), logitScale: 5)
        #expect(abs(Double(high.result.loss) - expected) <= 1e-5 * expected)
        #expect(!below.result.isScaleClamped && below.result.logitScaleGradient != 0)
    }

    @Test("identical pairs give log N and zero gradients")
    func identicalEmbeddings() throws {
        let n = 8, d = 4
        let row: [Float] = [0.3, -1, 2, 0.5]
        let u = Array((0..<n).map { _ in row }.joined()), v = u.map { $0 * 3 }
        let (result, du, dv) = try evaluate(ContrastiveLoss(), u, v, n: n, d: d, logitScale: 2.6592)
        #expect(abs(Double(result.loss) - log(Double(n))) <= 1e-6)
        #expect(du.allSatisfy { abs($0) < 1e-6 } && dv.allSatisfy { abs($0) < 1e-6 })
    }

    @Test("a zero embedding row gives a finite loss and a zero gradient")
    func zeroRow() throws {
        let n = 4, d = 3
        var rng = TestRandom(seed: 4)
        var u = rng.floats(n * d)
        let v = rng.floats(n * d)
        for k in 0..<d { u[2 * d + k] = 0 }
        let (result, du, dv) = try evaluate(ContrastiveLoss(), u, v, n: n, d: d, logitScale: 1)
        #expect(result.loss.isFinite)
        #expect(du[(2 * d)..<(3 * d)].allSatisfy { $0 == 0 })
        #expect(du.allSatisfy(\.isFinite) && dv.allSatisfy(\.isFinite))
        let ref = ReferenceCLIPLoss(n: n, d: d)
        let expected = ref.loss(u.map(Double.init), v.map(Double.init), logitScale: 1)
        #expect(abs(Double(result.loss) - expected) <= 1e-5 * expected)
    }

    @Test("row shards of the gradient sum to the full-batch gradient")
    func shardedRows() throws {
        let n = 7, d = 5
        var rng = TestRandom(seed: 5)
        let u = rng.floats(n * d), v = rng.floats(n * d)
        let loss = ContrastiveLoss()
        let full = try evaluate(loss, u, v, n: n, d: d, logitScale: 2)
        var du = [Float](repeating: 0, count: n * d), dv = du
        var scaleGradient: Float = 0
        for shard in [0..<3, 3..<3, 3..<7] {
            let result = try u.withUnsafeBufferPointer { up in
                try v.withUnsafeBufferPointer { vp in
                    try du.withUnsafeMutableBufferPointer { dup in
                        try dv.withUnsafeMutableBufferPointer { dvp in
                            try loss.evaluate(image: up.baseAddress!, text: vp.baseAddress!, rows: n, dim: d, logitScale: 2,
                                              gradients: ContrastiveGradientOutput(
                                                image: dup.baseAddress! + shard.lowerBound * d,
                                                text: dvp.baseAddress! + shard.lowerBound * d, rows: shard))
                        }
                    }
                }
            }
            #expect(result.loss == full.result.loss)  // every shard sees the full-batch loss
            scaleGradient += result.logitScaleGradient
        }
        #expect(maxAbsDiff(du, full.du.map(Double.init)) <= 1e-6 * Double(full.du.map(abs).max()!))
        #expect(maxAbsDiff(dv, full.dv.map(Double.init)) <= 1e-6 * Double(full.dv.map(abs).max()!))
        #expect(abs(scaleGradient - full.result.logitScaleGradient) <= 1e-5 * abs(full.result.logitScaleGradient))
    }

    @Test("weight scales and accumulate adds the gradients")
    func weightAndAccumulate() throws {
        let n = 4, d = 3
        var rng = TestRandom(seed: 6)
        let u = rng.floats(n * d), v = rng.floats(n * d)
        let loss = ContrastiveLoss()
        let full = try evaluate(loss, u, v, n: n, d: d, logitScale: 1)
        var du = [Float](repeating: 1, count: n * d), dv = du
        let result = try u.withUnsafeBufferPointer { up in
            try v.withUnsafeBufferPointer { vp in
                try du.withUnsafeMutableBufferPointer { dup in
                    try dv.withUnsafeMutableBufferPointer { dvp in
                        try loss.evaluate(image: up.baseAddress!, text: vp.baseAddress!, rows: n, dim: d, logitScale: 1,
                                          gradients: ContrastiveGradientOutput(image: dup.baseAddress!, text: dvp.baseAddress!,
                                                                               weight: 0.5, accumulate: true))
                    }
                }
            }
        }
        #expect(result.loss == full.result.loss)
        #expect(maxAbsDiff(du, full.du.map { 1 + 0.5 * Double($0) }) <= 1e-6)
        #expect(maxAbsDiff(dv, full.dv.map { 1 + 0.5 * Double($0) }) <= 1e-6)
        #expect(abs(result.logitScaleGradient - 0.5 * full.result.logitScaleGradient) <= 1e-6)
    }

    @Test("the normalised-input entry point agrees with the raw one")
    func normalizedEntryPoint() throws {
        let n = 5, d = 4
        var rng = TestRandom(seed: 7)
        let u = rng.floats(n * d), v = rng.floats(n * d)
        let ref = ReferenceCLIPLoss(n: n, d: d)
        let x = ref.normalized(u.map(Double.init)).map(Float.init)
        let y = ref.normalized(v.map(Double.init)).map(Float.init)
        let loss = ContrastiveLoss()
        let raw = try evaluate(loss, u, v, n: n, d: d, logitScale: 1.2)
        var dx = [Float](repeating: 0, count: n * d), dy = dx
        let s = raw.result.scale
        let out = try x.withUnsafeBufferPointer { xp in
            try y.withUnsafeBufferPointer { yp in
                try dx.withUnsafeMutableBufferPointer { dxp in
                    try dy.withUnsafeMutableBufferPointer { dyp in
                        try loss.evaluateNormalized(image: xp.baseAddress!, text: yp.baseAddress!, rows: n, dim: d, scale: s,
                                                    gradients: ContrastiveGradientOutput(image: dxp.baseAddress!, text: dyp.baseAddress!))
                    }
                }
            }
        }
        #expect(abs(out.loss - raw.result.loss) <= 1e-6 * raw.result.loss)
        // d/dlogit_scale = s * d/ds.
        #expect(abs(out.scaleGradient * s - raw.result.logitScaleGradient) <= 1e-5 * abs(raw.result.logitScaleGradient))
        // Projecting the normalised-input gradient off each unit row and
        // dividing by the raw norm must give the raw gradient.
        for i in 0..<n {
            let norm = (0..<d).map { Double(u[i * d + $0]) * Double(u[i * d + $0]) }.reduce(0, +).squareRoot()
            let dot = (0..<d).map { Double(x[i * d + $0]) * Double(dx[i * d + $0]) }.reduce(0, +)
            for k in 0..<d {
                let expected = (Double(dx[i * d + k]) - Double(x[i * d + k]) * dot) / norm
                #expect(abs(expected - Double(raw.du[i * d + k])) <= 1e-5)
            }
        }
    }

    @Test("reusing one instance across batch sizes gives bit-identical results")
    func workspaceReuse() throws {
        var rng = TestRandom(seed: 8)
        let u8 = rng.floats(8 * 6), v8 = rng.floats(8 * 6)
        let u3 = rng.floats(3 * 10), v3 = rng.floats(3 * 10)
        let reused = ContrastiveLoss()
        let first = try evaluate(reused, u8, v8, n: 8, d: 6, logitScale: 2)
        _ = try evaluate(reused, u3, v3, n: 3, d: 10, logitScale: 3)
        let again = try evaluate(reused, u8, v8, n: 8, d: 6, logitScale: 2)
        let fresh3 = try evaluate(ContrastiveLoss(), u3, v3, n: 3, d: 10, logitScale: 3)
        let reused3 = try evaluate(reused, u3, v3, n: 3, d: 10, logitScale: 3)
        #expect(first.result == again.result && first.du == again.du && first.dv == again.dv)
        #expect(fresh3.result == reused3.result && fresh3.du == reused3.du && fresh3.dv == reused3.dv)
    }

    @Test("bad inputs are refused with specific errors")
    func errors() throws {
        let loss = ContrastiveLoss()
        let u: [Float] = [1, 0, 0, 1]
        var g = [Float](repeating: 0, count: 4)
        u.withUnsafeBufferPointer { up in
            g.withUnsafeMutableBufferPointer { gp in
                let p = up.baseAddress!, out = gp.baseAddress!
                #expect(throws: ContrastiveLossError.emptyBatch) {
                    try loss.evaluate(image: p, text: p, rows: 0, dim: 2, logitScale: 1)
                }
                #expect(throws: ContrastiveLossError.invalidDimension(0)) {
                    try loss.evaluate(image: p, text: p, rows: 2, dim: 0, logitScale: 1)
                }
                #expect(throws: ContrastiveLossError.self) {
                    try loss.evaluate(image: p, text: p, rows: 2, dim: 2, logitScale: .nan)
                }
                #expect(throws: ContrastiveLossError.gradientRowsOutOfRange(1..<3, batch: 2)) {
                    try loss.evaluate(image: p, text: p, rows: 2, dim: 2, logitScale: 1,
                                      gradients: ContrastiveGradientOutput(image: out, text: out, rows: 1..<3))
                }
                #expect(throws: ContrastiveLossError.nonFiniteScale(.infinity)) {
                    try loss.evaluateNormalized(image: p, text: p, rows: 2, dim: 2, scale: .infinity)
                }
            }
        }
        #expect(ContrastiveLossError.emptyBatch.description.contains("at least one"))
    }
}
