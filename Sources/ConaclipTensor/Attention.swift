import ConaclipNative

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
        let seq = shape.seq, hd = shape.headDim, width = shape.width, stride = shape.stride
        precondition(stride >= width, "Attention: row stride \(stride) is smaller than the width \(width)")
        if seq == 0 || shape.batch == 0 || shape.heads == 0 { return }
        let scale = 1 / Float(hd).squareRoot()
        for b in 0..<shape.batch {
            let rowBase = b * seq * stride
            for h in 0..<shape.heads {
                let p = probabilities + (b * shape.heads + h) * seq * seq
                let qh = q + rowBase + h * hd, kh = k + rowBase + h * hd, vh = v + rowBase + h * hd
                // Scores S = q_h k_h^T * scale straight into the probability slice.
                BLAS.gemm(transA: false, transB: true, m: seq, n: seq, k: hd, alpha: scale,
                          a: qh, lda: stride, b: kh, ldb: stride, beta: 0, c: p, ldc: seq)
                // P = softmax(S) row by row; causal rows only see 0...t.
                for t in 0..<seq {
                    let row = p + t * seq
                    let valid = shape.causal ? t + 1 : seq
                    Softmax.row(x: row, y: row, count: valid)
                    if valid < seq { (row + valid).update(repeating: 0, count: seq - valid) }
                }
                // out_h = P v_h, written with the dense row stride `width`.
                BLAS.gemm(transA: false, transB: false, m: seq, n: hd, k: seq,
                          a: p, lda: seq, b: vh, ldb: stride, beta: 0,
                          c: out + b * seq * width + h * hd, ldc: width)
            }
        }
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
        let seq = shape.seq, hd = shape.headDim, width = shape.width, stride = shape.stride
        precondition(stride >= width, "Attention: row stride \(stride) is smaller than the width \(width)")
        if seq == 0 || shape.batch == 0 || shape.heads == 0 { return }
        let scale = 1 / Float(hd).squareRoot()
        for b in 0..<shape.batch {
            let rowBase = b * seq * stride
            for h in 0..<shape.heads {
                let p = probabilities + (b * shape.heads + h) * seq * seq
                let offset = rowBase + h * hd
                let dOutH = dOut + b * seq * width + h * hd
                // dV_h = P^T dOut_h.
                BLAS.gemm(transA: true, transB: false, m: seq, n: hd, k: seq,
                          a: p, lda: seq, b: dOutH, ldb: width, beta: 0, c: dv + offset, ldc: stride)
                // dP = dOut_h v_h^T into scratch.
                BLAS.gemm(transA: false, transB: true, m: seq, n: seq, k: hd,
                          a: dOutH, lda: width, b: v + offset, ldb: stride, beta: 0, c: scratch, ldc: seq)
                // dS = softmax backward of dP, in place; masked entries get 0.
                for t in 0..<seq {
                    let row = scratch + t * seq
                    let valid = shape.causal ? t + 1 : seq
                    Softmax.rowBackward(dy: row, y: p + t * seq, dx: row, count: valid)
                    if valid < seq { (row + valid).update(repeating: 0, count: seq - valid) }
                }
                // dQ_h = dS k_h * scale, dK_h = dS^T q_h * scale.
                BLAS.gemm(transA: false, transB: false, m: seq, n: hd, k: seq, alpha: scale,
                          a: scratch, lda: seq, b: k + offset, ldb: stride, beta: 0, c: dq + offset, ldc: stride)
                BLAS.gemm(transA: true, transB: false, m: seq, n: hd, k: seq, alpha: scale,
                          a: scratch, lda: seq, b: q + offset, ldb: stride, beta: 0, c: dk + offset, ldc: stride)
            }
        }
    }
}
