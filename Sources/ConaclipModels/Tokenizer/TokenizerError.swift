/// What went wrong while loading, building, training or saving a CLIP BPE
/// tokenizer. Every case names the file (and line, where there is one) and
/// says what to fix.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A required file (`vocab.json`, `merges.txt`) is not there.
    case fileNotFound(file: String)
    /// The file exists but could not be read or written.
    case fileAccessFailed(file: String, reason: String)
    /// The file is not valid UTF-8.
    case invalidUTF8(file: String, line: Int)
    /// The file is not valid JSON.
    case malformedJSON(file: String, line: Int, reason: String)
    /// `vocab.json` is valid JSON but not an object of token -> non-negative integer id.
    case invalidVocabulary(file: String, line: Int, reason: String)
    /// A `merges.txt` line is not exactly two tokens separated by one space.
    case malformedMerge(file: String, line: Int, text: String)
    /// A merge names a token (or produces one) that `vocab.json` lacks.
    case mergeTokenNotInVocabulary(file: String, line: Int, token: String)
    /// `tokenizer_config.json` / `special_tokens_map.json` has a field of the wrong shape.
    case invalidConfiguration(file: String, reason: String)
    /// The vocabulary lacks byte symbols and has no unknown token to stand in for them.
    case incompleteByteAlphabet(missing: String)
    /// A trainer argument is out of range.
    case invalidTrainerArgument(String)

    public var description: String {
        switch self {
        case .fileNotFound(let file):
            return "\(file): file not found (a CLIP tokenizer directory needs vocab.json and merges.txt)"
        case .fileAccessFailed(let file, let reason):
            return "\(file): cannot access file: \(reason)"
        case .invalidUTF8(let file, let line):
            return "\(file):\(line): not valid UTF-8"
        case .malformedJSON(let file, let line, let reason):
            return "\(file):\(line): malformed JSON: \(reason)"
        case .invalidVocabulary(let file, let line, let reason):
            return "\(file):\(line): invalid vocabulary: \(reason)"
        case .malformedMerge(let file, let line, let text):
            return "\(file):\(line): a merge line must be two tokens separated by one space, found \(String(reflecting: text))"
        case .mergeTokenNotInVocabulary(let file, let line, let token):
            return "\(file):\(line): merge uses or produces \(String(reflecting: token)), which is not in the vocabulary"
        case .invalidConfiguration(let file, let reason):
            return "\(file): invalid tokenizer configuration: \(reason)"
        case .incompleteByteAlphabet(let missing):
            return "vocabulary lacks byte symbol \(String(reflecting: missing)) and has no unknown token in vocab.json to replace it"
        case .invalidTrainerArgument(let reason):
            return "BPE trainer: \(reason)"
        }
    }
}
