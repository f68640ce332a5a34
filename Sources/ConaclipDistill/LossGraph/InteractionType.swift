/// One kind of edge in ConaCLIP's fully-connected knowledge interaction graph
/// (METHOD.md, "Canonical definitions"). The raw value is the name used in
/// term specs and configs.
public enum InteractionType: String, CaseIterable, Sendable, Hashable, Codable {
    /// Student-teacher, same modality: edges (S_I, T_I) and (S_T, T_T).
    case intraTS = "intra-ts"
    /// Student self-similarity: edges (S_I, S_I) and (S_T, S_T).
    case intraSS = "intra-ss"
    /// Student-teacher, across modalities: edges (S_I, T_T) and (S_T, T_I).
    case interTS = "inter-ts"
    /// Student image against student text: the single edge (S_I, S_T).
    case interSS = "inter-ss"

    /// The names accepted in a term spec, for error messages.
    public static var allowedNames: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
