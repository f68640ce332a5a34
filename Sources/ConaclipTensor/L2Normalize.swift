/// Row-wise L2 normalisation `y = x / ||x||` (as CLIP normalises embeddings).
public enum L2Normalize {
    /// Writes `y` and the row norms `norms[rows]` (kept for the backward
    /// pass). `y` may alias `x`. A zero row stays zero (with norm 0).
    ///
    /// Rows whose squares overflow or underflow float (entries beyond about
    /// 1e19 or below 1e-19) are rescaled by their largest magnitude first, so
    /// they still normalise to unit length.
    public static func forward(
        x: UnsafePointer<Float>, rows: Int, cols: Int,
        y: UnsafeMutablePointer<Float>, norms: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            let xr = x + r * cols, yr = y + r * cols
            var norm = Vectorized.dot(xr, xr, cols).squareRoot()
            if !(norm.isNormal && norm < 1e18 && norm > 1e-18) {
                // Slow path for extreme or zero rows: scale by max |x| first.
                let m = Vectorized.maxMagnitude(xr, cols)
                if m == 0 || !m.isFinite {
                    norm = m
                } else {
                    var s: Float = 0
                    for j in 0..<cols { let v = xr[j] / m; s += v * v }
                    norm = m * s.squareRoot()
                }
            }
            norms[r] = norm
            if norm == 0 {
                yr.update(repeating: 0, count: cols)
            } else {
                // Division, not a reciprocal: 1/norm overflows for subnormal norms.
                Vectorized.map(xr, into: yr, cols) { $0 / norm }
            }
        }
    }

    /// `dx = (dy - y (y . dy)) / ||x||` per row, from the forward output `y`
    /// and `norms`. `dx` may alias `dy`. A zero row (norm 0) gets `dx = 0`
    /// (the gradient is undefined there; 0 keeps training finite).
    public static func backward(
        dy: UnsafePointer<Float>, y: UnsafePointer<Float>, norms: UnsafePointer<Float>,
        rows: Int, cols: Int, dx: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            let yr = y + r * cols, dyr = dy + r * cols, dxr = dx + r * cols
            let norm = norms[r]
            if norm == 0 {
                dxr.update(repeating: 0, count: cols)
                continue
            }
            let d = Vectorized.dot(yr, dyr, cols)
            Vectorized.map(dyr, yr, into: dxr, cols) { g, v in (g - v * d) / norm }
        }
    }
}
