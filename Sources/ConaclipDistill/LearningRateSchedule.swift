import Foundation

/// Errors from building a learning-rate schedule; each names the bad setting.
public enum LearningRateScheduleError: Error, Equatable, CustomStringConvertible {
    case invalidLearningRate(name: String, value: Double)
    case minimumAboveMaximum(lr: Double, minLR: Double)
    case invalidSteps(warmupSteps: Int, totalSteps: Int)

    public var description: String {
        switch self {
        case let .invalidLearningRate(name, value):
            return "\(name) = \(value) is invalid: it must be finite and >= 0"
        case let .minimumAboveMaximum(lr, minLR):
            return "min_lr = \(minLR) is above lr = \(lr); it must not be"
        case let .invalidSteps(warmup, total):
            return "warmup_steps = \(warmup), total_steps = \(total) are invalid: "
                + "need total_steps >= 1 and 0 <= warmup_steps <= total_steps"
        }
    }
}

/// Linear warmup from 0 to `lr`, then cosine decay from `lr` to `minLR`
/// (config names `lr`, `warmup_steps`, `total_steps`, `min_lr`).
///
/// A pure function of the 0-based optimiser step `t` (the step about to be
/// taken), computed in Double:
/// - `t < warmup`: `lr * t / warmup` (so step 0 uses 0, as Hugging Face's
///   `get_cosine_schedule_with_warmup` does);
/// - `warmup <= t < total`: `minLR + (lr - minLR) * (1 + cos(pi * (t - warmup) / (total - warmup))) / 2`
///   (exactly `lr` at `t = warmup`);
/// - `t >= total`: `minLR`. Negative steps are treated as step 0.
public struct LearningRateSchedule: Codable, Sendable, Equatable {
    /// Peak learning rate, reached at the end of warmup.
    public let lr: Double
    public let warmupSteps: Int
    /// Steps of the whole run; the cosine reaches `minLR` here.
    public let totalSteps: Int
    /// Final learning rate.
    public let minLR: Double

    public init(lr: Double, warmupSteps: Int, totalSteps: Int, minLR: Double = 0) throws(LearningRateScheduleError) {
        guard lr.isFinite, lr >= 0 else { throw .invalidLearningRate(name: "lr", value: lr) }
        guard minLR.isFinite, minLR >= 0 else { throw .invalidLearningRate(name: "min_lr", value: minLR) }
        guard minLR <= lr else { throw .minimumAboveMaximum(lr: lr, minLR: minLR) }
        guard totalSteps >= 1, warmupSteps >= 0, warmupSteps <= totalSteps else {
            throw .invalidSteps(warmupSteps: warmupSteps, totalSteps: totalSteps)
        }
        self.lr = lr; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps; self.minLR = minLR
    }

    /// The learning rate for 0-based step `step`.
    public func learningRate(atStep step: Int) -> Double {
        let t = max(0, step)
        if t < warmupSteps { return lr * Double(t) / Double(warmupSteps) }
        if t >= totalSteps { return minLR }
        let progress = Double(t - warmupSteps) / Double(totalSteps - warmupSteps)
        return minLR + (lr - minLR) * 0.5 * (1 + Foundation.cos(Double.pi * progress))
    }

    enum CodingKeys: String, CodingKey {
        case lr, warmupSteps = "warmup_steps", totalSteps = "total_steps", minLR = "min_lr"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let lr = try c.decode(Double.self, forKey: .lr)
        let warmup = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? 0
        let total = try c.decode(Int.self, forKey: .totalSteps)
        let minLR = try c.decodeIfPresent(Double.self, forKey: .minLR) ?? 0
        do {
            try self.init(lr: lr, warmupSteps: warmup, totalSteps: total, minLR: minLR)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }
}
