/// The two activations CLIP configs name: `gelu` (exact, erf-based, as
/// `torch.nn.functional.gelu`) and `quick_gelu` (`x * sigmoid(1.702 x)`).
public enum Activation: String, Sendable, Codable, CaseIterable {
    case gelu
    case quickGELU = "quick_gelu"

    /// `y = act(x)` elementwise; `y` may alias `x`.
    public func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
        preconditionFailure("Activation.forward: not implemented")
    }

    /// `dx = dy * act'(x)` elementwise, given the forward input `x`; `dx` may alias `dy`.
    public func backward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) {
        preconditionFailure("Activation.backward: not implemented")
    }
}
