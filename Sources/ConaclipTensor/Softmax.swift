/// Numerically stable row-wise softmax.
public enum Softmax {
    /// `y[r, :] = softmax(x[r, :])`; `y` may alias `x`.
    public static func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            row(x: x + r * cols, y: y + r * cols, count: cols)
        }
    }

    /// `dx = y * (dy - rowsum(dy * y))` given the forward output `y`; `dx` may alias `dy`.
    public static func backward(dy: UnsafePointer<Float>, y: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            rowBackward(dy: dy + r * cols, y: y + r * cols, dx: dx + r * cols, count: cols)
        }
    }

    /// Softmax of one row of `count` values (`y` may alias `x`): subtract the
    /// maximum, exponentiate, normalise.
    @inline(__always)
    static func row(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
        let m = Vectorized.max(x, count)
        Vectorized.map(x, into: y, count) { ElementMath.exp($0 - m) }
        let inverse = 1 / Vectorized.sum(y, count)
        Vectorized.scale(y, by: inverse, count)
    }

    /// Backward of `row` (`dx` may alias `dy`).
    @inline(__always)
    static func rowBackward(dy: UnsafePointer<Float>, y: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) {
        let d = Vectorized.dot(dy, y, count)
        Vectorized.map(dy, y, into: dx, count) { g, p in p * (g - d) }
    }
}
