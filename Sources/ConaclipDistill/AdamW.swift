import Foundation

/// Errors from configuring, stepping or restoring the optimiser.
public enum OptimizerError: Error, Equatable, CustomStringConvertible {
    /// A hyper-parameter is outside its valid range.
    case invalidHyperparameter(name: String, value: Double, requirement: String)
    /// The learning rate passed to a step is negative or not finite.
    case invalidLearningRate(Double)
    /// A restored state does not fit this optimiser's parameter store.
    case stateSizeMismatch(expected: Int, firstMoment: Int, secondMoment: Int)
    /// A restored step count is negative.
    case invalidStepCount(Int)

    public var description: String {
        switch self {
        case let .invalidHyperparameter(name, value, requirement):
            return "optimizer setting \(name) = \(value) is invalid: it must be \(requirement)"
        case let .invalidLearningRate(lr):
            return "learning rate \(lr) is invalid: it must be finite and >= 0"
        case let .stateSizeMismatch(expected, m, v):
            return "optimizer state has \(m) first-moment and \(v) second-moment values, "
                + "but the model has \(expected) parameters (checkpoint from a different model?)"
        case let .invalidStepCount(step):
            return "optimizer step count \(step) is invalid: it must be >= 0"
        }
    }
}

/// AdamW hyper-parameters (config names `beta1`, `beta2`, `eps`,
/// `weight_decay`; defaults are torch.optim.AdamW's). The learning rate is
/// not here: it comes from a `LearningRateSchedule` at every step.
public struct AdamWConfig: Codable, Sendable, Equatable {
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var weightDecay: Double

    public init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
                weightDecay: Double = 0.01) throws(OptimizerError) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        try validate()
    }

    /// Checks every field's range.
    public func validate() throws(OptimizerError) {
        for (name, beta) in [("beta1", beta1), ("beta2", beta2)] where !(beta >= 0 && beta < 1) {
            throw .invalidHyperparameter(name: name, value: beta, requirement: "in [0, 1)")
        }
        guard eps.isFinite, eps >= 0 else {
            throw .invalidHyperparameter(name: "eps", value: eps, requirement: "finite and >= 0")
        }
        guard weightDecay.isFinite, weightDecay >= 0 else {
            throw .invalidHyperparameter(name: "weight_decay", value: weightDecay, requirement: "finite and >= 0")
        }
    }

    enum CodingKeys: String, CodingKey {
        case beta1, beta2, eps, weightDecay = "weight_decay"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        beta1 = try c.decodeIfPresent(Double.self, forKey: .beta1) ?? 0.9
        beta2 = try c.decodeIfPresent(Double.self, forKey: .beta2) ?? 0.999
        eps = try c.decodeIfPresent(Double.self, forKey: .eps) ?? 1e-8
        weightDecay = try c.decodeIfPresent(Double.self, forKey: .weightDecay) ?? 0.01
        do { try validate() } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }
}

/// Which parameters get weight decay.
///
/// The CLIP rule (`clip`): a parameter decays if and only if it is a weight
/// matrix of a linear map, i.e. it has 2 or more dimensions AND it is not an
/// embedding table. Hence no decay on biases, layer-norm weights and biases
/// (all 1-D), `logit_scale` (0-D), the class embedding (1-D), and the token
/// and position embedding tables (2-D, excluded by name: a name component
/// `token_embedding`, `position_embedding`, `positional_embedding` or
/// `class_embedding`). The patch embedding's convolution kernel
/// `[hidden, channels, patch, patch]` is a linear map on patches and decays,
/// as do attention/MLP weights and the two projections. As a safeguard the
/// rule also never decays names ending in `bias`, containing a layer-norm
/// component (`layer_norm*`, `layernorm`, HF's `pre_layrnorm`), or named
/// `logit_scale`, whatever their shape.
public enum WeightDecayRule {
    /// The default rule described above.
    public static func clip(name: String, shape: [Int]) -> Bool {
        guard shape.count >= 2 else { return false }
        if name == "logit_scale" || name.hasSuffix("logit_scale") || name.hasSuffix("bias") { return false }
        for component in name.split(separator: ".") {
            let c = component.lowercased()
            if c.contains("token_embedding") || c.contains("position_embedding")
                || c.contains("positional_embedding") || c.contains("class_embedding") { return false }
            if c.contains("layer_norm") || c.contains("layernorm") || c.contains("layrnorm") { return false }
        }
        return true
    }
}

/// A snapshot of AdamW's state for checkpoints: restoring it into an
/// optimiser over the same parameter layout continues bit-exactly.
public struct AdamWState: Sendable, Equatable {
    /// Number of steps taken (torch's `state['step']`).
    public var step: Int
    /// First moments `m` (torch's `exp_avg`), in the store's flat layout.
    public var firstMoment: [Float]
    /// Second moments `v` (torch's `exp_avg_sq`), in the store's flat layout.
    public var secondMoment: [Float]

    public init(step: Int, firstMoment: [Float], secondMoment: [Float]) {
        self.step = step; self.firstMoment = firstMoment; self.secondMoment = secondMoment
    }
}

/// AdamW over a flat `ParameterStore`, with torch.optim.AdamW semantics
/// (amsgrad off, not maximising), applied element-wise in this order for step t:
///
///     p = p * (1 - lr * wd)                       (only where the decay rule says so)
///     m = m + (1 - beta1) * (g - m)               (torch's lerp)
///     v = v * beta2 + (1 - beta2) * g * g
///     denom = sqrt(v) / sqrt(1 - beta2^t) + eps
///     p = p + (-lr / (1 - beta1^t)) * m / denom
///
/// Scalars are computed in Double and rounded to Float once, as torch does
/// with Python floats; element arithmetic is Float32 without fused
/// multiply-adds (so the loop vectorises on any x86-64). Results agree with
/// torch to a few ulp, not bitwise: torch's CPU kernels fuse the lerp and
/// addcmul multiply-adds and, on AVX-512, use a sqrt that is not correctly
/// rounded (measured with torch 2.15 here; see AdamWTests). They are
/// bit-identical between our own runs: the loop is sequential and fixed.
/// The gradients are read from `store.gradients` and are not modified; the
/// caller checks them (see `GradientClipping`) before stepping.
public final class AdamW {
    public let config: AdamWConfig
    /// Number of steps taken so far.
    public private(set) var stepCount: Int = 0
    /// First moments, same layout as `store.values`.
    public let firstMoment: FloatBuffer
    /// Second moments, same layout as `store.values`.
    public let secondMoment: FloatBuffer
    /// Contiguous element ranges of the store, each with its decay flag.
    public let segments: [(range: Range<Int>, decays: Bool)]
    private let store: ParameterStore

    /// An optimiser for every parameter of `store`; `decays(name, shape)`
    /// decides which parameters get weight decay.
    public init(store: ParameterStore, config: AdamWConfig,
                decays: (String, [Int]) -> Bool = WeightDecayRule.clip) {
        self.store = store
        self.config = config
        firstMoment = FloatBuffer(count: store.count)
        secondMoment = FloatBuffer(count: store.count)
        var segments: [(range: Range<Int>, decays: Bool)] = []
        for spec in store.specs where spec.count > 0 {
            let flag = decays(spec.name, spec.shape)
            let range = spec.offset..<(spec.offset + spec.count)
            if let last = segments.last, last.decays == flag, last.range.upperBound == range.lowerBound {
                segments[segments.count - 1].range = last.range.lowerBound..<range.upperBound
            } else {
                segments.append((range, flag))
            }
        }
        self.segments = segments
    }

    /// Whether the named parameter gets weight decay.
    public func decays(_ name: String) -> Bool? {
        guard let spec = store.spec(named: name), spec.count > 0 else { return nil }
        return segments.first { $0.range.contains(spec.offset) }?.decays
    }

    /// Takes one step with learning rate `learningRate`, updating
    /// `store.values` from `store.gradients`.
    public func step(learningRate lr: Double) throws(OptimizerError) {
        guard lr.isFinite, lr >= 0 else { throw .invalidLearningRate(lr) }
        stepCount += 1
        let t = Double(stepCount)
        let beta1 = config.beta1, beta2 = config.beta2
        let biasCorrection1 = 1 - Foundation.pow(beta1, t)
        let biasCorrection2 = 1 - Foundation.pow(beta2, t)
        let negStepSize = Float(-(lr / biasCorrection1))
        let bc2Sqrt = Float(Foundation.pow(biasCorrection2, 0.5))
        let eps = Float(config.eps)
        let decayFactor = Float(1 - lr * config.weightDecay)
        let lerpWeight = Float(1 - beta1)
        let lerpSmall = abs(lerpWeight) < 0.5
        let oneMinusLerp = 1 - lerpWeight
        let beta2f = Float(beta2), oneMinusBeta2 = Float(1 - beta2)

        let p = store.values.pointer, g = store.gradients.pointer
        let m = firstMoment.pointer, v = secondMoment.pointer
        for segment in segments {
            let factor: Float = segment.decays ? decayFactor : 1
            for k in segment.range {
                let gk = g[k]
                var pk = p[k] * factor
                let mk = lerpSmall ? m[k] + lerpWeight * (gk - m[k]) : gk - (gk - m[k]) * oneMinusLerp
                let vk = v[k] * beta2f + oneMinusBeta2 * gk * gk
                let denom = vk.squareRoot() / bc2Sqrt + eps
                pk = pk + negStepSize * mk / denom
                m[k] = mk; v[k] = vk; p[k] = pk
            }
        }
    }

    /// A copy of the state (step count and both moments).
    public func state() -> AdamWState {
        AdamWState(step: stepCount, firstMoment: firstMoment.array, secondMoment: secondMoment.array)
    }

    /// Restores a state saved by `state()` from an optimiser over the same layout.
    public func restore(_ state: AdamWState) throws(OptimizerError) {
        try state.firstMoment.withUnsafeBufferPointer { m throws(OptimizerError) in
            try state.secondMoment.withUnsafeBufferPointer { v throws(OptimizerError) in
                try restore(step: state.step, firstMoment: m, secondMoment: v)
            }
        }
    }

    /// Restores the state from raw moment buffers (for example read straight
    /// from a checkpoint file).
    public func restore(step: Int, firstMoment m: UnsafeBufferPointer<Float>,
                        secondMoment v: UnsafeBufferPointer<Float>) throws(OptimizerError) {
        guard step >= 0 else { throw .invalidStepCount(step) }
        guard m.count == store.count, v.count == store.count else {
            throw .stateSizeMismatch(expected: store.count, firstMoment: m.count, secondMoment: v.count)
        }
        if let base = m.baseAddress { firstMoment.pointer.update(from: base, count: m.count) }
        if let base = v.baseAddress { secondMoment.pointer.update(from: base, count: v.count) }
        stepCount = step
    }
}
