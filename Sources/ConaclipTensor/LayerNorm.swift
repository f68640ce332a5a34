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
        precondition(rows >= 0 && (cols > 0 || rows == 0), "LayerNorm: rows need at least one column")
        let inverseCols = 1 / Float(cols)
        for r in 0..<rows {
            let xr = x + r * cols, yr = y + r * cols
            // Two passes over a row that sits in L1: exact mean, then the
            // variance around it (no E[x^2] - E[x]^2 cancellation).
            let mu = Vectorized.sum(xr, cols) * inverseCols
            let variance = Vectorized.sumSquaredDeviations(xr, cols, center: mu) * inverseCols
            let rs = 1 / (variance + eps).squareRoot()
            mean[r] = mu
            rstd[r] = rs
            for j in 0..<cols { yr[j] = (xr[j] - mu) * rs * gamma[j] + beta[j] }
        }
    }

    /// Backward of `forward`: `dx` overwritten (or added to when
    /// `accumulateInput`), `dGamma`/`dBeta` accumulate.
    ///
    /// With `xhat = (x - mean) * rstd` and `g = dy * gamma`:
    /// `dx = rstd * (g - mean(g) - xhat * mean(g * xhat))`,
    /// `dGamma += sum over rows of dy * xhat`, `dBeta += sum over rows of dy`.
    /// `dx` may alias `dy`.
    public static func backward(
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        rows: Int, cols: Int, gamma: UnsafePointer<Float>,
        dx: UnsafeMutablePointer<Float>, accumulateInput: Bool,
        dGamma: UnsafeMutablePointer<Float>, dBeta: UnsafeMutablePointer<Float>
    ) {
        precondition(rows >= 0 && (cols > 0 || rows == 0), "LayerNorm: rows need at least one column")
        let inverseCols = 1 / Float(cols)
        for r in 0..<rows {
            let xr = x + r * cols, dyr = dy + r * cols, dxr = dx + r * cols
            let mu = mean[r], rs = rstd[r]
            // Pass 1: row sums of g and g * xhat, and the parameter gradients.
            let muV = SIMD16<Float>(repeating: mu), rsV = SIMD16<Float>(repeating: rs)
            var sumGV = SIMD16<Float>(), sumGXV = SIMD16<Float>()
            var j = 0
            while j &+ 16 <= cols {
                let dyv = Vectorized.load(dyr + j)
                let xhat = (Vectorized.load(xr + j) - muV) * rsV
                let g = dyv * Vectorized.load(gamma + j)
                sumGV += g
                sumGXV += g * xhat
                Vectorized.store(Vectorized.load(dGamma + j) + dyv * xhat, dGamma + j)
                Vectorized.store(Vectorized.load(dBeta + j) + dyv, dBeta + j)
                j &+= 16
            }
            var sumG = Vectorized.reduceSum(sumGV), sumGX = Vectorized.reduceSum(sumGXV)
            while j < cols {
                let d = dyr[j]
                let xhat = (xr[j] - mu) * rs
                let g = d * gamma[j]
                sumG += g
                sumGX += g * xhat
                dGamma[j] += d * xhat
                dBeta[j] += d
                j &+= 1
            }
            // Pass 2: the input gradient.
            let a = sumG * inverseCols, b = sumGX * inverseCols
            if accumulateInput {
                for j in 0..<cols {
                    let xhat = (xr[j] - mu) * rs
                    dxr[j] += rs * (dyr[j] * gamma[j] - a - xhat * b)
                }
            } else if UnsafePointer(dxr) == dyr {
                // In place: one pointer for dy/dx, so the loop still vectorises.
                for j in 0..<cols {
                    let xhat = (xr[j] - mu) * rs
                    dxr[j] = rs * (dxr[j] * gamma[j] - a - xhat * b)
                }
            } else {
                for j in 0..<cols {
                    let xhat = (xr[j] - mu) * rs
                    dxr[j] = rs * (dyr[j] * gamma[j] - a - xhat * b)
                }
            }
        }
    }
}
