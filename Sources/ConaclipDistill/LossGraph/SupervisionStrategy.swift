/// How one interaction type is supervised (METHOD.md, "Supervision
/// strategies"). The raw value is the name used in term specs and configs.
public enum SupervisionStrategy: String, CaseIterable, Sendable, Hashable, Codable {
    /// Symmetric InfoNCE over the edge's similarity matrix (diagonal = positives).
    case infonce
    /// Feature-wise distance: mean squared L2 distance between paired rows.
    case fd
    /// Similarity-wise distance to the teacher's similarity matrix.
    case sd
    /// KL divergence from the teacher's softmax distributions (rows and columns).
    case kl
    /// Mutual similarity-wise distance between the type's two mirror matrices.
    case symSD = "sym-sd"
    /// Mutual symmetric KL between the type's two mirror matrices.
    case symKL = "sym-kl"

    /// The names accepted in a term spec, for error messages.
    public static var allowedNames: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Whether the strategy is one of the KL family (the only ones the
    /// `klTauSquared` option applies to).
    public var isKL: Bool { self == .kl || self == .symKL }

    /// Why this strategy is undefined on `type`, or nil when the pair is defined.
    public func refusal(on type: InteractionType) -> String? {
        switch (type, self) {
        case (.intraSS, .infonce), (.intraSS, .fd):
            return "\(rawValue) needs a distinct positive per row, but intra-ss compares a student with itself "
                + "(every row would be its own positive); use sd, kl, sym-sd or sym-kl on intra-ss"
        case (.interSS, .symSD), (.interSS, .symKL):
            return "\(rawValue) pairs two mirror edges of one type, but inter-ss has a single edge (S_I, S_T); "
                + "use infonce, fd, sd or kl on inter-ss"
        default:
            return nil
        }
    }

    /// Whether the pair (type, strategy) has a canonical definition.
    public func isDefined(on type: InteractionType) -> Bool { refusal(on: type) == nil }
}
