import Foundation

/// Reading and writing the Hugging Face CLIP tokenizer files: `vocab.json`
/// (token -> id) and `merges.txt` (a `#version` line, then one `left right`
/// merge per line, in rank order).
enum TokenizerFiles {
    /// One `vocab.json` entry: the token's UTF-8, its id, and its line.
    struct VocabularyEntry {
        var token: String
        var id: Int32
        var line: Int
    }

    /// One merge and the line it was on.
    struct MergeEntry {
        var left: String
        var right: String
        var line: Int
    }

    /// Parses `vocab.json`: a JSON object of token -> non-negative integer id.
    static func parseVocabulary(_ bytes: [UInt8], file: String) throws(TokenizerError) -> [VocabularyEntry] {
        let json = try TokenizerJSON.parse(bytes, file: file)
        guard case .object(let members) = json else {
            throw .invalidVocabulary(file: file, line: 1, reason: "the top level must be an object of token -> id")
        }
        var entries: [VocabularyEntry] = []
        entries.reserveCapacity(members.count)
        var line = 1
        var lineOffset = 0
        for member in members {
            // Members come in file order, so the line count can advance incrementally.
            while lineOffset < member.offset {
                if bytes[lineOffset] == UInt8(ascii: "\n") { line += 1 }
                lineOffset += 1
            }
            guard let id = member.value.integerValue, id >= 0, id < Int(Int32.max) else {
                throw .invalidVocabulary(file: file, line: line,
                                         reason: "the id of \(String(reflecting: member.key)) must be a non-negative integer below 2^31")
            }
            entries.append(VocabularyEntry(token: member.key, id: Int32(id), line: line))
        }
        return entries
    }

    /// Parses `merges.txt` the way `tokenizers` reads it: lines starting with
    /// `#version` are skipped, every other line (an empty one included) must
    /// be exactly two tokens separated by one space. `\r\n` endings are accepted.
    static func parseMerges(_ bytes: [UInt8], file: String) throws(TokenizerError) -> [MergeEntry] {
        try TokenizerJSON.validateUTF8(bytes, file: file)
        var merges: [MergeEntry] = []
        var lineNumber = 0
        var start = 0
        let n = bytes.count
        while start < n {
            var end = start
            while end < n && bytes[end] != UInt8(ascii: "\n") { end += 1 }
            lineNumber += 1
            var contentEnd = end
            if end < n && contentEnd > start && bytes[contentEnd - 1] == UInt8(ascii: "\r") { contentEnd -= 1 }
            let line = bytes[start..<contentEnd]
            start = end + 1
            if line.starts(with: "#version".utf8) { continue }
            let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw .malformedMerge(file: file, line: lineNumber, text: String(decoding: line, as: UTF8.self))
            }
            merges.append(MergeEntry(left: String(decoding: parts[0], as: UTF8.self),
                                     right: String(decoding: parts[1], as: UTF8.self), line: lineNumber))
        }
        return merges
    }

    /// `vocab.json` text: one entry per line, in id order.
    static func vocabularyJSON(_ tokens: [String]) -> String {
        var out = "{\n"
        for (id, token) in tokens.enumerated() {
            out += "  " + TokenizerJSON.quoted(token) + ": " + String(id) + (id + 1 < tokens.count ? ",\n" : "\n")
        }
        return out + "}\n"
    }

    /// `merges.txt` text.
    static func mergesText(_ merges: [(String, String)]) -> String {
        var out = "#version: 0.2\n"
        for (left, right) in merges { out += left + " " + right + "\n" }
        return out
    }

    /// Writes `text` to `url` atomically, with typed errors.
    static func write(_ text: String, to url: URL) throws(TokenizerError) {
        do {
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw .fileAccessFailed(file: url.path, reason: "cannot write: \(error)")
        }
    }
}
