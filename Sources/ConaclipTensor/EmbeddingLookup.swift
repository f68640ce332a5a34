/// Token embedding lookup (`torch.nn.Embedding`).
public enum EmbeddingLookup {
    /// `out[i, :] = table[ids[i], :]` for `count` ids. Ids must be in range
    /// (callers validate token ids against the vocabulary size first).
    public static func forward(
        ids: UnsafePointer<Int32>, count: Int, table: UnsafePointer<Float>, dim: Int,
        out: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<count {
            (out + i * dim).update(from: table + Int(ids[i]) * dim, count: dim)
        }
    }

    /// `dTable[ids[i], :] += dOut[i, :]`.
    public static func backward(
        dOut: UnsafePointer<Float>, ids: UnsafePointer<Int32>, count: Int, dim: Int,
        dTable: UnsafeMutablePointer<Float>
    ) {
        // In id order, so repeated ids accumulate in a fixed order.
        for i in 0..<count {
            Vectorized.add(dOut + i * dim, into: dTable + Int(ids[i]) * dim, dim)
        }
    }
}
