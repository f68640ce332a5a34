import Testing
@testable import ConaclipTensor

@Suite("EmbeddingLookup")
struct EmbeddingLookupTests {
    let vocab = 7, dim = 21
    let ids: [Int32] = [3, 0, 6, 3, 3, 1]

    func forward(_ table: [Float]) -> [Float] {
        let tb = buffer(table), out = FloatBuffer(count: ids.count * dim)
        ids.withUnsafeBufferPointer { idp in
            EmbeddingLookup.forward(ids: idp.baseAddress!, count: ids.count, table: tb.pointer, dim: dim, out: out.pointer)
        }
        return out.array
    }

    @Test func forwardCopiesRows() {
        var rng = SplitMix64(seed: 60)
        let table = rng.array(vocab * dim)
        let out = forward(table)
        for (i, id) in ids.enumerated() {
            #expect(Array(out[(i * dim)..<((i + 1) * dim)]) == Array(table[(Int(id) * dim)..<((Int(id) + 1) * dim)]))
        }
    }

    @Test func backwardAccumulatesRepeatedIds() {
        var rng = SplitMix64(seed: 61)
        let table = rng.array(vocab * dim), r = rng.array(ids.count * dim), prior = rng.array(vocab * dim)
        let grad = buffer(prior), rb = buffer(r)
        ids.withUnsafeBufferPointer { idp in
            EmbeddingLookup.backward(dOut: rb.pointer, ids: idp.baseAddress!, count: ids.count, dim: dim, dTable: grad.pointer)
        }
        let delta = zip(grad.array, prior).map { $0 - $1 }
        expectGradient("dTable", analytic: delta, numeric: numericGradient(of: table) { weightedSum(forward($0), r) },
                       rtol: 1e-4, atol: 1e-5)
        // Rows of ids never looked up (2, 4, 5) are untouched.
        for id in [2, 4, 5] {
            #expect(Array(grad.array[(id * dim)..<((id + 1) * dim)]) == Array(prior[(id * dim)..<((id + 1) * dim)]))
        }
    }
}
