/// Numerically stable row-wise softmax.
public enum Softmax {
    /// `y[r, :] = softmax(x[r, :])`; `y` may alias `x`.
    public static func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        preconditionFailure("Softmax.forward: not implemented")
    }

    /// `dx = y * (dy - rowsum(dy * y))` given the forward output `y`; `dx` may alias `dy`.
    public static func backward(dy: UnsafePointer<Float>, y: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        preconditionFailure("Softmax.backward: not implemented")
    }
}
