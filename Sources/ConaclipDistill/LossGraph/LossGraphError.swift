/// Why a loss term, a term spec or a loss-graph evaluation was refused.
/// Every message names the offending input and what is allowed instead.
public enum LossGraphError: Error, Equatable, CustomStringConvertible {
    /// The (type, strategy) pair has no canonical definition (METHOD.md).
    case undefinedPair(type: InteractionType, strategy: SupervisionStrategy, reason: String)
    /// tau must be a finite number greater than zero.
    case invalidTemperature(term: String, tau: Double)
    /// weights must be finite and non-negative.
    case invalidWeight(term: String, weight: Double)
    /// An option was set on a strategy it does not apply to.
    case optionNotApplicable(option: String, term: String)
    /// A term spec string is not `TYPE:STRATEGY:TAU[:WEIGHT]`.
    case malformedSpec(spec: String, reason: String)
    /// The TYPE field of a spec names no interaction type.
    case unknownType(spec: String, name: String)
    /// The STRATEGY field of a spec names no strategy.
    case unknownStrategy(spec: String, name: String)
    /// An embedding array does not hold `n * d` values.
    case embeddingCount(name: String, expected: Int, got: Int)
    /// The batch must have at least one row and one dimension.
    case emptyBatch(n: Int, d: Int)

    public var description: String {
        switch self {
        case let .undefinedPair(type, strategy, reason):
            return "loss term \(type.rawValue):\(strategy.rawValue) is undefined: \(reason)"
        case let .invalidTemperature(term, tau):
            return "loss term \(term): tau must be a finite number > 0, got \(tau)"
        case let .invalidWeight(term, weight):
            return "loss term \(term): weight must be a finite number >= 0, got \(weight)"
        case let .optionNotApplicable(option, term):
            return "loss term \(term): option \(option) only applies to kl and sym-kl terms"
        case let .malformedSpec(spec, reason):
            return "bad loss term '\(spec)': \(reason); expected TYPE:STRATEGY:TAU[:WEIGHT] "
                + "with TYPE in {\(InteractionType.allowedNames)} and STRATEGY in {\(SupervisionStrategy.allowedNames)}, "
                + "e.g. inter-ts:sym-kl:0.07 or intra-ts:fd:1:0.5"
        case let .unknownType(spec, name):
            return "bad loss term '\(spec)': unknown interaction type '\(name)'; allowed: \(InteractionType.allowedNames)"
        case let .unknownStrategy(spec, name):
            return "bad loss term '\(spec)': unknown strategy '\(name)'; allowed: \(SupervisionStrategy.allowedNames)"
        case let .embeddingCount(name, expected, got):
            return "embedding \(name) must hold n*d = \(expected) values, got \(got)"
        case let .emptyBatch(n, d):
            return "the loss needs at least one row and one dimension, got n = \(n), d = \(d)"
        }
    }
}
