import Foundation
import Testing
@testable import ConaclipTensor

@Suite("Attention")
struct AttentionTests {
    /// A fused `[batch, seq, stride]` qkv buffer with padding columns after
    /// q|k|v, as a fused projection with `stride > 3 * width` would give.
    struct Fused {
        var shape: AttentionShape
        var qkv: [Float]
        var width: Int { shape.width }
        var qOffset: Int { 0 }
        var kOffset: Int { width }
        var vOffset: Int { 2 * width }
    }

    static func makeShape(batch: Int, seq: Int, heads: Int, headDim: Int, causal: Bool, padding: Int = 3) -> AttentionShape {
        AttentionShape(batch: batch, seq: seq, heads: heads, headDim: headDim,
                       stride: 3 * heads * headDim + padding, causal: causal)
    }

    func forward(_ f: Fused) -> (out: [Float], probabilities: [Float]) {
        let qkv = buffer(f.qkv)
        let out = FloatBuffer(count: f.shape.batch * f.shape.seq * f.width)
        let p = FloatBuffer(count: f.shape.probabilitiesCount)
        out.pointer.update(repeating: .nan, count: out.count)
        p.pointer.update(repeating: .nan, count: p.count)
        Attention.forward(q: qkv.pointer + f.qOffset, k: qkv.pointer + f.kOffset, v: qkv.pointer + f.vOffset,
                          shape: f.shape, probabilities: p.pointer, out: out.pointer)
        return (out.array, p.array)
    }

    /// Attention with explicit loops in Float64.
    static func reference(_ f: Fused) -> [Double] {
        let s = f.shape, hd = s.headDim
        var out = [Double](repeating: 0, count: s.batch * s.seq * s.width)
        func at(_ offset: Int, _ b: Int, _ t: Int, _ h: Int, _ d: Int) -> Double {
            Double(f.qkv[(b * s.seq + t) * s.stride + offset + h * hd + d])
        }
        let scale = 1 / Double(hd).squareRoot()
        for b in 0..<s.batch {
            for h in 0..<s.heads {
                for t in 0..<s.seq {
                    let visible = s.causal ? t + 1 : s.seq
                    var scores = [Double](repeating: 0, count: visible)
                    for j in 0..<visible {
                        var dot = 0.0
                        for d in 0..<hd { dot += at(f.qOffset, b, t, h, d) * at(f.kOffset, b, j, h, d) }
                        scores[j] = dot * scale
                    }
                    let m = scores.max() ?? 0
                    let e = scores.map { Foundation.exp($0 - m) }
                    let z = e.reduce(0, +)
                    for d in 0..<hd {
                        var acc = 0.0
                        for j in 0..<visible { acc += e[j] / z * at(f.vOffset, b, j, h, d) }
                        out[(b * s.seq + t) * s.width + h * hd + d] = acc
                    }
                }
            }
        }
        return out
    }

    static func random(_ shape: AttentionShape, seed: UInt64, scale: Float = 1) -> Fused {
        var rng = SplitMix64(seed: seed)
        return Fused(shape: shape, qkv: rng.array(shape.batch * shape.seq * shape.stride, scale: scale))
    }

    @Test(arguments: [false, true])
    func forwardMatchesNaiveLoops(causal: Bool) {
        // seq 20 exercises the vector body of the row softmax as well as its tail.
        let f = Self.random(Self.makeShape(batch: 2, seq: 20, heads: 3, headDim: 4, causal: causal), seed: 40, scale: 2)
        let (out, p) = forward(f)
        expectClose(out, Self.reference(f), rtol: 1e-5, atol: 1e-6, "attention out")
        let seq = f.shape.seq
        for row in 0..<(p.count / seq) {
            let t = row % seq
            let probs = p[(row * seq)..<((row + 1) * seq)]
            #expect(abs(probs.reduce(0, +) - 1) < 1e-5)
            if causal { #expect(probs.dropFirst(t + 1).allSatisfy { $0 == 0 }) }
        }
    }

    @Test func denseLayoutWithStrideEqualToWidth() {
        // Separate q, k, v buffers with stride == width give the same result as fused.
        let shape = Self.makeShape(batch: 1, seq: 7, heads: 2, headDim: 3, causal: true, padding: 0)
        let f = Self.random(shape, seed: 41)
        let w = shape.width
        var q: [Float] = [], k: [Float] = [], v: [Float] = []
        for t in 0..<shape.seq {
            let row = f.qkv[(t * shape.stride)..<((t + 1) * shape.stride)]
            q += row.prefix(w); k += row.dropFirst(w).prefix(w); v += row.dropFirst(2 * w).prefix(w)
        }
        var dense = shape; dense.stride = w
        let qb = buffer(q), kb = buffer(k), vb = buffer(v)
        let out = FloatBuffer(count: shape.seq * w), p = FloatBuffer(count: dense.probabilitiesCount)
        Attention.forward(q: qb.pointer, k: kb.pointer, v: vb.pointer, shape: dense, probabilities: p.pointer, out: out.pointer)
        #expect(out.array == forward(f).out)
    }

    func backward(_ f: Fused, dOut: [Float], prefill: Float) -> [Float] {
        let (_, p) = forward(f)
        let qkv = buffer(f.qkv), pb = buffer(p), dOutB = buffer(dOut)
        let grad = buffer([Float](repeating: prefill, count: f.qkv.count))
        let scratch = FloatBuffer(count: f.shape.backwardScratchCount)
        scratch.pointer.update(repeating: .nan, count: scratch.count)
        Attention.backward(dOut: dOutB.pointer,
                           q: qkv.pointer + f.qOffset, k: qkv.pointer + f.kOffset, v: qkv.pointer + f.vOffset,
                           probabilities: pb.pointer, shape: f.shape,
                           dq: grad.pointer + f.qOffset, dk: grad.pointer + f.kOffset, dv: grad.pointer + f.vOffset,
                           scratch: scratch.pointer)
        return grad.array
    }

    @Test(arguments: [false, true])
    func backwardMatchesFiniteDifferences(causal: Bool) {
        let f = Self.random(Self.makeShape(batch: 2, seq: 6, heads: 2, headDim: 3, causal: causal), seed: 42, scale: 1.5)
        var rng = SplitMix64(seed: 43)
        let r = rng.array(f.shape.batch * f.shape.seq * f.width)
        let grad = backward(f, dOut: r, prefill: 0)
        // Every q, k, v entry (the padding columns are not inputs).
        let stride = f.shape.stride
        let inputs = f.qkv.indices.filter { $0 % stride < 3 * f.width }
        let numeric = numericGradient(of: f.qkv, indices: inputs) { values in
            var g = f; g.qkv = values
            return weightedSum(forward(g).out, r)
        }
        expectGradient(causal ? "causal dqkv" : "full dqkv", analytic: grad, numeric: numeric)
    }

    @Test func backwardWithLongRowsMatchesFiniteDifferences() {
        // seq 18 > 16: the vectorised row loops, on a sample of inputs.
        let f = Self.random(Self.makeShape(batch: 1, seq: 18, heads: 2, headDim: 4, causal: false), seed: 44)
        var rng = SplitMix64(seed: 45)
        let r = rng.array(f.shape.seq * f.width)
        let grad = backward(f, dOut: r, prefill: 0)
        let stride = f.shape.stride
        let inputs = f.qkv.indices.filter { $0 % stride < 3 * f.width && $0 % 5 == 0 }
        let numeric = numericGradient(of: f.qkv, indices: inputs) { values in
            var g = f; g.qkv = values
            return weightedSum(forward(g).out, r)
        }
        expectGradient("dqkv", analytic: grad, numeric: numeric)
    }

    @Test func backwardOverwritesAndLeavesPaddingAlone() {
        let f = Self.random(Self.makeShape(batch: 2, seq: 5, heads: 2, headDim: 2, causal: true), seed: 46)
        var rng = SplitMix64(seed: 47)
        let r = rng.array(f.shape.batch * f.shape.seq * f.width)
        let fromZero = backward(f, dOut: r, prefill: 0)
        let fromJunk = backward(f, dOut: r, prefill: 123)
        let stride = f.shape.stride
        for i in fromZero.indices {
            if i % stride < 3 * f.width {
                #expect(fromZero[i] == fromJunk[i], "gradient \(i) depends on the old contents")
            } else {
                #expect(fromJunk[i] == 123, "padding column \(i) was written")
            }
        }
    }
}
