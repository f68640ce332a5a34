/// Errors from gradient clipping.
public enum GradientClippingError: Error, Equatable, CustomStringConvertible {
    case invalidMaxNorm(Double)

    public var description: String {
        switch self {
        case let .invalidMaxNorm(v):
            return "max gradient norm \(v) is invalid: it must be > 0 (or infinity to only measure)"
        }
    }
}

/// What global-norm clipping measured and did.
public struct GradientNormReport: Sendable, Equatable {
    /// The global L2 norm BEFORE clipping (accumulated in Double); infinite
    /// or NaN when a gradient element is.
    public var norm: Double
    /// The factor the gradients were multiplied by (1 when not clipped, or
    /// when the norm is not finite).
    public var scale: Float

    /// False when some gradient is infinite or NaN: the gradients were left
    /// untouched and the caller must refuse (not take) the step.
    public var isFinite: Bool { norm.isFinite }
    /// True when the gradients were scaled down.
    public var wasClipped: Bool { scale < 1 }
}

/// Global-norm gradient clipping over a flat gradient buffer, with
/// torch.nn.utils.clip_grad_norm_'s rule: with `n` the L2 norm of all
/// gradients and `c = maxNorm / (n + 1e-6)`, the gradients are multiplied by
/// `c` when `c < 1`. The norm is summed in Double in a fixed order, so it is
/// deterministic.
public enum GradientClipping {
    /// The global L2 norm of `gradients`, accumulated in Double.
    public static func globalNorm(_ gradients: UnsafeBufferPointer<Float>) -> Double {
        guard let g = gradients.baseAddress else { return 0 }
        let n = gradients.count
        // Four independent partial sums in a fixed order: deterministic and
        // free of a single long dependency chain.
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var k = 0
        while k + 4 <= n {
            let a = Double(g[k]), b = Double(g[k + 1]), c = Double(g[k + 2]), d = Double(g[k + 3])
            s0 += a * a; s1 += b * b; s2 += c * c; s3 += d * d
            k += 4
        }
        while k < n { let a = Double(g[k]); s0 += a * a; k += 1 }
        return ((s0 + s1) + (s2 + s3)).squareRoot()
    }

    /// Measures the global norm and scales the gradients down in place when
    /// it exceeds `maxNorm` (`.infinity` only measures). A non-finite norm
    /// leaves the gradients untouched and is reported as such.
    public static func clipGlobalNorm(_ gradients: UnsafeMutableBufferPointer<Float>,
                                      maxNorm: Double) throws(GradientClippingError) -> GradientNormReport {
        guard maxNorm > 0 else { throw .invalidMaxNorm(maxNorm) }  // also rejects NaN
        let norm = globalNorm(UnsafeBufferPointer(gradients))
        guard norm.isFinite else { return GradientNormReport(norm: norm, scale: 1) }
        let coefficient = maxNorm / (norm + 1e-6)
        guard coefficient < 1, let g = gradients.baseAddress else { return GradientNormReport(norm: norm, scale: 1) }
        let scale = Float(coefficient)
        for k in 0..<gradients.count { g[k] *= scale }
        return GradientNormReport(norm: norm, scale: scale)
    }

    /// Clips all gradients of a parameter store (see `clipGlobalNorm(_:maxNorm:)`).
    public static func clipGlobalNorm(_ store: ParameterStore, maxNorm: Double) throws(GradientClippingError) -> GradientNormReport {
        try clipGlobalNorm(store.gradients.buffer, maxNorm: maxNorm)
    }
}
