/// A token recognised as a whole in the text before normalisation and BPE,
/// such as `<|endoftext|>` (Hugging Face `tokenizers.AddedToken`).
public struct AddedToken: Sendable, Hashable, CustomStringConvertible {
    public var content: String
    /// Only match where the token is not part of a longer word.
    public var singleWord: Bool
    /// Swallow the whitespace on its left.
    public var lstrip: Bool
    /// Swallow the whitespace on its right.
    public var rstrip: Bool
    /// Whether it is matched in the normalised (lower-cased) text; nil means
    /// the library default, which is `!special`.
    public var normalizedSetting: Bool?
    /// Special tokens are dropped by `decode(skipSpecialTokens: true)`.
    public var special: Bool

    public init(_ content: String, special: Bool, singleWord: Bool = false, lstrip: Bool = false,
                rstrip: Bool = false, normalized: Bool? = nil) {
        self.content = content; self.special = special; self.singleWord = singleWord
        self.lstrip = lstrip; self.rstrip = rstrip; self.normalizedSetting = normalized
    }

    /// Whether it is matched against normalised text.
    public var normalized: Bool { normalizedSetting ?? !special }

    /// Equality as `tokenizers` defines it: every resolved field, content byte for byte.
    public static func == (a: AddedToken, b: AddedToken) -> Bool {
        a.content.utf8.elementsEqual(b.content.utf8) && a.singleWord == b.singleWord && a.lstrip == b.lstrip
            && a.rstrip == b.rstrip && a.normalized == b.normalized && a.special == b.special
    }

    public func hash(into hasher: inout Hasher) {
        for byte in content.utf8 { hasher.combine(byte) }
        hasher.combine(special)
    }

    public var description: String {
        "AddedToken(\(String(reflecting: content)), special: \(special), normalized: \(normalized), "
            + "lstrip: \(lstrip), rstrip: \(rstrip), singleWord: \(singleWord))"
    }
}

/// The added tokens of a tokenizer with their ids, and the two-stage search
/// for them in text: tokens with `normalized == false` are found in the raw
/// text, the others in the normalised pieces between those (a port of
/// `AddedVocabulary` from the Rust `tokenizers` library: leftmost-longest
/// matching, `single_word`, `lstrip`, `rstrip`).
struct AddedVocabulary: Sendable {
    /// Content (UTF-8) -> id.
    private(set) var ids: [[UInt8]: Int32] = [:]
    /// id -> the token as last added (its flags drive matching).
    private(set) var tokensById: [Int32: AddedToken] = [:]
    /// Contents of special tokens (a content stays special once added as special).
    private var specialContents: Set<[UInt8]> = []

    /// Patterns searched in raw text and in normalised text: (scalars, id).
    private(set) var rawPatterns: [([Unicode.Scalar], Int32)] = []
    private(set) var normalizedPatterns: [([Unicode.Scalar], Int32)] = []

    /// Ids that `decode(skipSpecialTokens: true)` drops: those whose token
    /// string (see `tokenString(for:)`) is the content of a special token.
    var specialIds: Set<Int32> {
        var result: Set<Int32> = []
        for content in specialContents {
            if let id = ids[content], let string = tokenString(for: id), Array(string.utf8) == content { result.insert(id) }
        }
        return result
    }

    /// Adds tokens like `AddedVocabulary::add_tokens` in `tokenizers` 0.23: a
    /// token already present with identical flags is ignored; a token whose
    /// content is in the model vocabulary (or already added) reuses that id,
    /// otherwise it gets the next id after the model vocabulary. When a content
    /// is added again with other flags, the last flags win everywhere,
    /// including which stage searches for it (checked against the library).
    mutating func add(_ tokens: [AddedToken], modelVocabulary: [[UInt8]: Int32], modelVocabularyCount: Int) {
        for token in tokens where token.special && !token.content.isEmpty {
            specialContents.insert(Array(token.content.utf8))
        }
        for token in tokens {
            if token.content.isEmpty || tokensById.values.contains(token) { continue }
            let key = Array(token.content.utf8)
            let id: Int32
            if let existing = ids[key] ?? modelVocabulary[key] {
                id = existing
            } else if let maxAdded = ids.values.max() {
                id = (Int(maxAdded) >= modelVocabularyCount || modelVocabularyCount == 0) ? maxAdded + 1 : Int32(modelVocabularyCount)
            } else {
                id = Int32(modelVocabularyCount)
            }
            ids[key] = id
            tokensById[id] = token
        }
        rawPatterns = []
        normalizedPatterns = []
        for (id, token) in tokensById.sorted(by: { $0.key < $1.key }) {
            if token.normalized {
                let pattern = TextNormalization.normalize(Array(token.content.unicodeScalars))
                if !pattern.isEmpty { normalizedPatterns.append((pattern, id)) }
            } else {
                rawPatterns.append((Array(token.content.unicodeScalars), id))
            }
        }
    }

    /// The token string of an added token id, as `tokenizers`' `id_to_token`
    /// gives it: the content, normalised for tokens flagged `normalized`.
    func tokenString(for id: Int32) -> String? {
        guard let token = tokensById[id] else { return nil }
        guard token.normalized else { return token.content }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: TextNormalization.normalize(Array(token.content.unicodeScalars)))
        return String(view)
    }

    /// A piece of text after the added-token search: either an added token's
    /// id or a range of text still to be tokenised.
    enum Segment: Equatable {
        case token(Int32)
        case text(Range<Int>)
    }

    /// Splits `text` around the tokens of one stage (`find_matches`).
    func split(_ text: [Unicode.Scalar], normalizedStage: Bool) -> [Segment] {
        let patterns = normalizedStage ? normalizedPatterns : rawPatterns
        if patterns.isEmpty || text.isEmpty { return text.isEmpty ? [] : [.text(0..<text.count)] }
        var segments: [Segment] = []
        var startOffset = 0
        var position = 0
        let n = text.count
        while position < n {
            // Leftmost-longest: the longest pattern matching at the first position that has one.
            var bestLength = 0
            var bestId: Int32 = -1
            for (pattern, id) in patterns where pattern.count > bestLength && position + pattern.count <= n {
                var equal = true
                for k in 0..<pattern.count where text[position + k] != pattern[k] { equal = false; break }
                if equal { bestLength = pattern.count; bestId = id }
            }
            if bestLength == 0 { position += 1; continue }
            var start = position
            var stop = position + bestLength
            position = stop
            guard let token = tokensById[bestId] else { continue }
            if token.singleWord {
                let startSpace = start == 0 || !Self.isWordCharacter(text[start - 1])
                let stopSpace = stop == n || !Self.isWordCharacter(text[stop])
                if !startSpace || !stopSpace { continue }
            }
            if token.lstrip {
                var newStart = start
                while newStart > 0 && TextNormalization.isWhitespace(text[newStart - 1]) { newStart -= 1 }
                start = max(newStart, startOffset)
            }
            if token.rstrip {
                // The search itself resumes at the match's end, as aho-corasick's does.
                while stop < n && TextNormalization.isWhitespace(text[stop]) { stop += 1 }
            }
            if startOffset < start { segments.append(.text(startOffset..<start)) }
            segments.append(.token(bestId))
            startOffset = stop
        }
        if startOffset != n { segments.append(.text(startOffset..<n)) }
        return segments
    }

    /// Rust `regex`'s Unicode `\w`: Alphabetic, marks, decimal digits,
    /// connector punctuation, Join_Control, as of Unicode 16.0 (checked
    /// against `tokenizers` for every code point).
    static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        guard TextNormalization.isAssignedInReferenceVersion(scalar) else { return false }
        let properties = scalar.properties
        if properties.isAlphabetic || properties.isJoinControl { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}
