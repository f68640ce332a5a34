/// One weighted term of the distillation loss: an interaction type supervised
/// by one strategy at temperature `tau` (METHOD.md, "Canonical definitions").
///
/// Only defined pairs can be constructed. `tau` is required for every term
/// (as in the spec string) but only infonce, kl and sym-kl use it.
public struct LossTerm: Sendable, Hashable, CustomStringConvertible {
    public let type: InteractionType
    public let strategy: SupervisionStrategy
    /// Temperature dividing similarities before a softmax.
    public let tau: Double
    /// Factor of this term in the total loss.
    public let weight: Double
    /// Non-canonical option (off by default): multiply a kl or sym-kl term's
    /// value and gradient by tau^2, as Hinton et al. scale distillation losses.
    public let klTauSquared: Bool

    /// A validated term; throws for an undefined pair, a tau that is not a
    /// finite positive number, a negative or non-finite weight, or
    /// `klTauSquared` on a strategy outside the KL family.
    public init(
        type: InteractionType, strategy: SupervisionStrategy, tau: Double,
        weight: Double = 1, klTauSquared: Bool = false
    ) throws(LossGraphError) {
        if let reason = strategy.refusal(on: type) {
            throw .undefinedPair(type: type, strategy: strategy, reason: reason)
        }
        let name = "\(type.rawValue):\(strategy.rawValue)"
        guard tau.isFinite, tau > 0 else { throw .invalidTemperature(term: name, tau: tau) }
        guard weight.isFinite, weight >= 0 else { throw .invalidWeight(term: name, weight: weight) }
        if klTauSquared && !strategy.isKL {
            throw .optionNotApplicable(option: "kl_tau_squared", term: name)
        }
        self.type = type
        self.strategy = strategy
        self.tau = tau
        self.weight = weight
        self.klTauSquared = klTauSquared
    }

    /// Parses `TYPE:STRATEGY:TAU[:WEIGHT]` (weight defaults to 1), e.g.
    /// `inter-ts:sym-kl:0.07` or `intra-ts:fd:1:0.5`.
    public init(spec: String, klTauSquared: Bool = false) throws(LossGraphError) {
        let fields = spec.split(separator: ":", omittingEmptySubsequences: false)
            .map { $0.trimmingWhitespace().lowercased() }
        guard fields.count == 3 || fields.count == 4 else {
            throw .malformedSpec(spec: spec, reason: "it has \(fields.count) field(s) separated by ':'")
        }
        guard let type = InteractionType(rawValue: fields[0]) else {
            throw .unknownType(spec: spec, name: fields[0])
        }
        guard let strategy = SupervisionStrategy(rawValue: fields[1]) else {
            throw .unknownStrategy(spec: spec, name: fields[1])
        }
        guard let tau = Double(fields[2]) else {
            throw .malformedSpec(spec: spec, reason: "TAU '\(fields[2])' is not a number")
        }
        var weight = 1.0
        if fields.count == 4 {
            guard let parsed = Double(fields[3]) else {
                throw .malformedSpec(spec: spec, reason: "WEIGHT '\(fields[3])' is not a number")
            }
            weight = parsed
        }
        try self.init(type: type, strategy: strategy, tau: tau, weight: weight, klTauSquared: klTauSquared)
    }

    /// The canonical spec string, `TYPE:STRATEGY:TAU` with `:WEIGHT` appended
    /// when the weight is not 1; parsing it gives back an equal term (the
    /// `klTauSquared` option is not part of the spec).
    public var spec: String {
        let base = "\(type.rawValue):\(strategy.rawValue):\(tau)"
        return weight == 1 ? base : "\(base):\(weight)"
    }

    public var description: String { klTauSquared ? "\(spec) (kl_tau_squared)" : spec }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> String {
        var view = self[...]
        while let first = view.first, first.isWhitespace { view = view.dropFirst() }
        while let last = view.last, last.isWhitespace { view = view.dropLast() }
        return String(view)
    }
}
