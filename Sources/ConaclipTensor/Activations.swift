/// The two activations CLIP configs name: `gelu` (exact, erf-based, as
/// `torch.nn.functional.gelu`) and `quick_gelu` (`x * sigmoid(1.702 x)`).
///
/// Both run as vectorised loops: the normal CDF behind `gelu` comes from
/// `ElementMath.normalCDF` (within a few ulps of `erff`, and accurate in the
/// lower tail where `1 + erf` cancels) instead of a per-element libm call.
public enum Activation: String, Sendable, Codable, CaseIterable {
    case gelu
    case quickGELU = "quick_gelu"

    /// `y = act(x)` elementwise; `y` may alias `x`.
    public func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .gelu:
            for i in 0..<count {
                let v = x[i]
                y[i] = v * ElementMath.normalCDF(v).cdf
            }
        case .quickGELU:
            for i in 0..<count {
                let v = x[i]
                y[i] = v / (1 + ElementMath.exp(-1.702 * v))
            }
        }
    }

    /// `dx = dy * act'(x)` elementwise, given the forward input `x`; `dx` may alias `dy`.
    public func backward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .gelu:
            // d/dx [x Phi(x)] = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi).
            for i in 0..<count {
                let v = x[i]
                let (cdf, gaussian) = ElementMath.normalCDF(v)
                dx[i] = dy[i] * (cdf + v * gaussian * 0.398_942_3)
            }
        case .quickGELU:
            // d/dx [x s(ax)] = s + a x s (1 - s), a = 1.702.
            for i in 0..<count {
                let v = x[i]
                let s = 1 / (1 + ElementMath.exp(-1.702 * v))
                dx[i] = dy[i] * (s + 1.702 * v * s * (1 - s))
            }
        }
    }
}
