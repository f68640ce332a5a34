/// Layer normalisation over the last dimension, as `torch.nn.LayerNorm`
/// (biased variance, `eps` inside the square root).
public enum LayerNorm {
    /// `y = (x - mean) * rstd * gamma + beta` per row. Saves `mean[rows]` and
    /// `rstd[rows]` for the backward pass. `y` may not alias `x`.
    public static func forward(
        x: UnsafePointer<Float>, rows: Int, cols: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
        y: UnsafeMutablePointer<Float>,
        mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>
    ) {
        preconditionFailure("LayerNorm.forward: not implemented")
    }

    /// Backward of `forward`: `dx` overwritten (or added to when
    /// `accumulateInput`), `dGamma`/`dBeta` accumulate.
    public static func backward(
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        rows: Int, cols: Int, gamma: UnsafePointer<Float>,
        dx: UnsafeMutablePointer<Float>, accumulateInput: Bool,
        dGamma: UnsafeMutablePointer<Float>, dBeta: UnsafeMutablePointer<Float>
    ) {
        preconditionFailure("LayerNorm.backward: not implemented")
    }
}
