/// Row-wise L2 normalisation `y = x / ||x||` (as CLIP normalises embeddings).
public enum L2Normalize {
    /// Writes `y` and the row norms `norms[rows]` (kept for the backward
    /// pass). `y` may alias `x`. A zero row stays zero.
    public static func forward(
        x: UnsafePointer<Float>, rows: Int, cols: Int,
        y: UnsafeMutablePointer<Float>, norms: UnsafeMutablePointer<Float>
    ) {
        preconditionFailure("L2Normalize.forward: not implemented")
    }

    /// `dx = (dy - y (y . dy)) / ||x||` per row, from the forward output `y`
    /// and `norms`. `dx` may alias `dy`.
    public static func backward(
        dy: UnsafePointer<Float>, y: UnsafePointer<Float>, norms: UnsafePointer<Float>,
        rows: Int, cols: Int, dx: UnsafeMutablePointer<Float>
    ) {
        preconditionFailure("L2Normalize.backward: not implemented")
    }
}
