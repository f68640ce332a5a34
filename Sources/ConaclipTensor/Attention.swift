/// Shape of one multi-head scaled-dot-product attention call.
///
/// `q`, `k`, `v` are `[batch, seq, heads * headDim]` views with row stride
/// `stride` (so they can point into one fused `[batch, seq, 3 * width]` qkv
/// buffer with `stride = 3 * width`). Head `h` of token `t` of sample `b` is
/// at `base + (b * seq + t) * stride + h * headDim`.
public struct AttentionShape: Sendable, Equatable {
    public var batch: Int
    public var seq: Int
    public var heads: Int
    public var headDim: Int
    /// Row stride of q, k, v (and of dq, dk, dv) in floats.
    public var stride: Int
    /// Causal (token t attends to tokens 0...t) or full.
    public var causal: Bool

    public init(batch: Int, seq: Int, heads: Int, headDim: Int, stride: Int, causal: Bool) {
        self.batch = batch; self.seq = seq; self.heads = heads
        self.headDim = headDim; self.stride = stride; self.causal = causal
    }

    public var width: Int { heads * headDim }
    /// Floats needed for the saved attention probabilities.
    public var probabilitiesCount: Int { batch * heads * seq * seq }
    /// Floats of scratch the backward pass needs.
    public var backwardScratchCount: Int { seq * seq }
}

/// Multi-head scaled-dot-product attention (scale `1/sqrt(headDim)`),
/// computed with one GEMM per (sample, head).
public enum Attention {
    /// `out[batch, seq, width]` (dense, row stride `width`) =
    /// `softmax(q k^T / sqrt(headDim) + mask) v` per head. Saves the
    /// probabilities `[batch, heads, seq, seq]` for the backward pass.
    public static func forward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        shape: AttentionShape,
        probabilities: UnsafeMutablePointer<Float>,
        out: UnsafeMutablePointer<Float>
    ) {
        preconditionFailure("Attention.forward: not implemented")
    }

    /// Backward of `forward`: writes (overwrites) `dq`, `dk`, `dv`, laid out
    /// like q, k, v (row stride `shape.stride`). `scratch` holds at least
    /// `shape.backwardScratchCount` floats.
    public static func backward(
        dOut: UnsafePointer<Float>,
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        probabilities: UnsafePointer<Float>, shape: AttentionShape,
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        preconditionFailure("Attention.backward: not implemented")
    }
}
