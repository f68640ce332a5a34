import ConaclipNative

/// Fully-connected layer `y = x W^T + b` with PyTorch's weight layout
/// (`W` is `[outFeatures, inFeatures]`).
public enum Linear {
    /// `y[rows, outF] = x[rows, inF] · W^T (+ bias)`. `y` is overwritten.
    /// `x` and `y` are dense (row strides `inFeatures` and `outFeatures`).
    public static func forward(
        x: UnsafePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        y: UnsafeMutablePointer<Float>
    ) {
        if rows == 0 || outFeatures == 0 { return }
        var beta: Float = 0
        if let bias {
            // Seed every row with the bias and let the GEMM add onto it
            // (OpenBLAS would otherwise spend a pass zeroing y for beta = 0).
            for r in 0..<rows { (y + r * outFeatures).update(from: bias, count: outFeatures) }
            beta = 1
        }
        BLAS.gemm(transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures,
                  a: x, lda: inFeatures, b: weight, ldb: inFeatures,
                  beta: beta, c: y, ldc: outFeatures)
    }

    /// Backward of `forward`.
    /// - `dx` (if non-nil) receives `dy · W`; overwritten, or added to when `accumulateInput`.
    /// - `dWeight += dy^T · x`, `dBias += column sums of dy` (parameter gradients always accumulate).
    public static func backward(
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
        rows: Int, inFeatures: Int, outFeatures: Int,
        weight: UnsafePointer<Float>,
        dx: UnsafeMutablePointer<Float>?, accumulateInput: Bool,
        dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?
    ) {
        if rows == 0 { return }
        if let dx {
            BLAS.gemm(transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures,
                      a: dy, lda: outFeatures, b: weight, ldb: inFeatures,
                      beta: accumulateInput ? 1 : 0, c: dx, ldc: inFeatures)
        }
        BLAS.gemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows,
                  a: dy, lda: outFeatures, b: x, ldb: inFeatures,
                  beta: 1, c: dWeight, ldc: inFeatures)
        if let dBias {
            for r in 0..<rows { Vectorized.add(dy + r * outFeatures, into: dBias, outFeatures) }
        }
    }
}
