import ConaclipNative

/// Fully-connected layer `y = x W^T + b` with PyTorch's weight layout
/// (`W` is `[outFeatures, inFeatures]`).
public enum Linear {
    /// `y[rows, outF] = x[rows, inF] · W^T (+ bias)`. `y` is overwritten.
    /// `xStride`/`yStride` are the row strides (default: dense).
    public static func forward(
        x: UnsafePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        y: UnsafeMutablePointer<Float>
    ) {
        preconditionFailure("Linear.forward: not implemented")
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
        preconditionFailure("Linear.backward: not implemented")
    }
}
