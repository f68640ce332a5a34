/// Token embedding lookup (`torch.nn.Embedding`).
public enum EmbeddingLookup {
    /// `out[i, :] = table[ids[i], :]` for `count` ids. Ids must be in range
    /// (callers validate token ids against the vocabulary size first).
    public static func forward(
        ids: UnsafePointer<Int32>, count: Int, table: UnsafePointer<Float>, dim: Int,
        out: UnsafeMutablePointer<Float>
    ) {
        preconditionFailure("EmbeddingLookup.forward: not implemented")
    }

    /// `dTable[ids[i], :] += dOut[i, :]`.
    public static func backward(
        dOut: UnsafePointer<Float>, ids: UnsafePointer<Int32>, count: Int, dim: Int,
        dTable: UnsafeMutablePointer<Float>
    ) {
        preconditionFailure("EmbeddingLookup.backward: not implemented")
    }
}
