/// Splits normalised text into the words BPE runs on, exactly like Hugging
/// Face's CLIP pre-tokenizer: the regex
/// `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
/// keeps its matches and drops the rest (whitespace), then the byte-level
/// pre-tokenizer's GPT-2 regex splits each match again. The second split only
/// changes the two special-token literals (`<|endoftext|>` becomes `<|`,
/// `endoftext`, `|>`), which reach this stage only when they are not
/// recognised as special tokens earlier (for example upper-case spellings).
/// Hand-written over Unicode scalars, with the regex's leftmost-first
/// alternation order; no regex engine involved.
public enum CLIPPreTokenizer {
    private static let startOfText: [Unicode.Scalar] = Array("<|startoftext|>".unicodeScalars)
    private static let endOfText: [Unicode.Scalar] = Array("<|endoftext|>".unicodeScalars)

    /// The words of `text` as ranges of scalar indices, in order.
    public static func split(_ text: [Unicode.Scalar]) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        split(text, into: &pieces)
        return pieces
    }

    /// Appends the words of `text` to `pieces`.
    public static func split(_ text: [Unicode.Scalar], into pieces: inout [Range<Int>]) {
        let n = text.count
        var i = 0
        while i < n {
            let c = text[i]
            // 1, 2: the special-token literals, split again as GPT-2 would.
            if c == "<" {
                let literal = matches(startOfText, in: text, at: i) ? startOfText
                    : matches(endOfText, in: text, at: i) ? endOfText : nil
                if let literal {
                    let end = i + literal.count
                    pieces.append(i..<(i + 2))
                    pieces.append((i + 2)..<(end - 2))
                    pieces.append((end - 2)..<end)
                    i = end
                    continue
                }
            }
            // 3: contractions 's 't 're 've 'm 'll 'd.
            if c == "'" && i + 1 < n {
                let next = text[i + 1]
                if next == "s" || next == "t" || next == "m" || next == "d" {
                    pieces.append(i..<(i + 2)); i += 2; continue
                }
                if i + 2 < n {
                    let third = text[i + 2]
                    if (next == "r" && third == "e") || (next == "v" && third == "e") || (next == "l" && third == "l") {
                        pieces.append(i..<(i + 3)); i += 3; continue
                    }
                }
            }
            // 4: a run of letters.
            if TextNormalization.isLetter(c) {
                var j = i + 1
                while j < n && TextNormalization.isLetter(text[j]) { j += 1 }
                pieces.append(i..<j); i = j; continue
            }
            // 5: one digit.
            if TextNormalization.isNumber(c) {
                pieces.append(i..<(i + 1)); i += 1; continue
            }
            // 6: a run of anything that is not whitespace, letter or digit.
            if !TextNormalization.isWhitespace(c) {
                var j = i + 1
                while j < n {
                    let d = text[j]
                    if TextNormalization.isWhitespace(d) || TextNormalization.isLetter(d) || TextNormalization.isNumber(d) { break }
                    j += 1
                }
                pieces.append(i..<j); i = j; continue
            }
            // Whitespace matches nothing and is dropped.
            i += 1
        }
    }

    @inline(__always)
    private static func matches(_ literal: [Unicode.Scalar], in text: [Unicode.Scalar], at i: Int) -> Bool {
        guard i + literal.count <= text.count else { return false }
        for k in 0..<literal.count where text[i + k] != literal[k] { return false }
        return true
    }
}
