/// The two activations CLIP configs name: `gelu` (exact, erf-based, as
/// `torch.nn.functional.gelu`) and `quick_gelu` (`x * sigmoid(1.702 x)`).
///
/// Both run as vectorised loops: the normal CDF behind `gelu` comes from
/// `ElementMath.normalCDF` (within 3e-7 relative of the exact value, also in
/// the lower tail where `1 + erf` cancels) instead of a per-element libm call.
public enum Activation: String, Sendable, Codable, CaseIterable {
    case gelu
    case quickGELU = "quick_gelu"

    /// `y = act(x)` elementwise; `y` may alias `x`.
    public func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .gelu:
            Vectorized.map(x, into: y, count) { v in v * ElementMath.normalCDF(v).cdf }
        case .quickGELU:
            Vectorized.map(x, into: y, count) { v in v / (1 + ElementMath.exp(-1.702 * v)) }
        }
    }

    /// `dx = dy * act'(x)` elementwise, given the forward input `x`; `dx` may alias `dy`.
    public func backward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .gelu:
            // d/dx [x Phi(x)] = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi).
            Vectorized.map(dy, x, into: dx, count) { g, v in
                let (cdf, gaussian) = ElementMath.normalCDF(v)
                return g * (cdf + v * gaussian * 0.398_942_3)
            }
        case .quickGELU:
            // d/dx [x s(ax)] = s + a x s (1 - s), a = 1.702.
            Vectorized.map(dy, x, into: dx, count) { g, v in
                let s = 1 / (1 + ElementMath.exp(-1.702 * v))
                return g * (s + 1.702 * v * s * (1 - s))
            }
        }
    }
}
