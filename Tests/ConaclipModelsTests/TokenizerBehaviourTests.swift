import Foundation
import Testing
@testable import ConaclipModels

/// The tokenizer's parts on their own: pre-tokenisation, byte-level mapping,
/// BPE merging, padding/truncation, decoding, errors, and thread safety.
/// Expected values are worked out by hand from the definitions in the comments.
@Suite struct TokenizerBehaviourTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizer")

    static func words(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        return CLIPPreTokenizer.split(scalars).map { range in
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[range])
            return String(view)
        }
    }

    /// CLIP's regex, alternative by alternative (on already normalised text).
    @Test func preTokenizerFollowsCLIPRegex() {
        #expect(Self.words("it's a dog's") == ["it", "'s", "a", "dog", "'s"])
        #expect(Self.words("we're they've i'm you'll he'd can't") == ["we", "'re", "they", "'ve", "i", "'m", "you", "'ll", "he", "'d", "can", "'t"])
        // A contraction only matches right after the apostrophe; "'x" is punctuation + letters.
        #expect(Self.words("'x ''s") == ["'", "x", "''", "s"])
        // Digits are single words; letter runs include accented letters and CJK.
        #expect(Self.words("abc123 café 东京") == ["abc", "1", "2", "3", "café", "东京"])
        #expect(Self.words("hello!!! (x)") == ["hello", "!!!", "(", "x", ")"])
        // Special-token literals split again by the byte-level GPT-2 regex.
        #expect(Self.words("a<|endoftext|>b") == ["a", "<|", "endoftext", "|>", "b"])
        #expect(Self.words("!<|endoftext|>") == ["!<|", "endoftext", "|>"])
        #expect(Self.words("  \t\n ").isEmpty)
        #expect(Self.words("").isEmpty)
    }

    /// Unicode classes at the edges the fixture relies on.
    @Test func characterClasses() {
        #expect(TextNormalization.isLetter("é") && TextNormalization.isLetter("东") && TextNormalization.isLetter("ǅ"))
        #expect(!TextNormalization.isLetter("\u{088F}"))  // a letter only since Unicode 17
        #expect(TextNormalization.isNumber("½") && TextNormalization.isNumber("Ⅻ") && TextNormalization.isNumber("٣"))
        #expect(TextNormalization.isWhitespace("\u{3000}") && TextNormalization.isWhitespace("\u{85}"))
        #expect(!TextNormalization.isWhitespace("\u{200B}") && !TextNormalization.isWhitespace("\u{1C}"))
        #expect(TextNormalization.isPythonWhitespace("\u{1C}"))
        // NFC, whitespace runs, and per-scalar lower-casing (no final-sigma rule).
        let normalized = TextNormalization.normalize(Array("Cafe\u{301}\t\n ΣΟΦΟΣ İ".unicodeScalars))
        #expect(normalized.map(\.value) == Array("café σοφοσ i\u{307}".unicodeScalars).map(\.value))
        #expect(TextNormalization.nfc(Array("\u{C2A4}\u{11A8}".unicodeScalars)).map(\.value) == [0xC2A5])
        #expect(TextNormalization.nfc(Array("\u{11935}\u{11930}".unicodeScalars)).map(\.value) == [0x11935, 0x11930])
    }

    @Test func byteLevelTableIsCLIPs() {
        let table = ByteLevelEncoding.scalarForByte
        #expect(Set(table.map(\.value)).count == 256)
        #expect(table[0x21] == "!" && table[0x7E] == "~" && table[0xE9] == "é")
        #expect(table[0x00] == "\u{100}" && table[0x20] == "\u{120}" && table[0xAD] == "\u{143}")
        for byte in 0..<256 { #expect(ByteLevelEncoding.byteForScalar[table[byte].value] == UInt8(byte)) }
        #expect(ByteLevelEncoding.encode(Array("é ".utf8)) == "Ã©Ġ")
        #expect(ByteLevelEncoding.decode("Ã©Ġ") == Array("é ".utf8))
        #expect(ByteLevelEncoding.decode("</w>x") == Array("</w>x".utf8))
        #expect(ByteLevelEncoding.decode("€") == nil)
    }

    /// A hand-made vocabulary: bytes a-e, their </w> forms, and merges.
    static func handMade(merges: [(String, String)], extraTokens: [String] = []) throws -> CLIPTokenizer {
        var vocab: [String: Int] = [:]
        var next = 0
        func add(_ t: String) { if vocab[t] == nil { vocab[t] = next; next += 1 } }
        for c in ["a", "b", "c", "d", "e", "!"] { add(c); add(c + "</w>") }
        for (l, r) in merges { add(l + r) }
        for t in extraTokens { add(t) }
        add("<|startoftext|>"); add("<|endoftext|>")
        return try CLIPTokenizer(vocab: vocab, merges: merges)
    }

    /// Lowest rank first, leftmost first: "aaaa" with (a,a) gives "aa" "aa</w>"...
    @Test func bpeMergesByRank() throws {
        let tokenizer = try Self.handMade(merges: [("a", "a"), ("a", "a</w>"), ("aa", "aa</w>")])
        // a a a a</w> -> (a,a)@0 -> aa a a</w> -> (a,a)@1 is gone, (a,a</w>)@2 -> aa aa</w> -> aaaa</w>
        #expect(tokenizer.tokenize("aaaa") == ["aaaa</w>"])
        #expect(tokenizer.tokenize("aaa") == ["aa", "a</w>"])
        // The lowest rank merges first even when it is further right, which can block a later merge.
        let reordered = try Self.handMade(merges: [("b", "c</w>"), ("a", "b"), ("ab", "c</w>")])
        // a b c</w>: (b,c</w>) rank 0 first -> a bc</w>; nothing merges a with bc</w>.
        #expect(reordered.tokenize("abc") == ["a", "bc</w>"])
    }

    @Test func paddingAndTruncationKeepTheEndToken() throws {
        let tokenizer = try Self.handMade(merges: [])
        let bos = try #require(tokenizer.tokenId(for: "<|startoftext|>"))
        let eos = try #require(tokenizer.tokenId(for: "<|endoftext|>"))
        #expect(tokenizer.bosTokenId == bos && tokenizer.eosTokenId == eos && tokenizer.padTokenId == eos)
        let a = try #require(tokenizer.tokenId(for: "a</w>"))
        let b = try #require(tokenizer.tokenId(for: "b</w>"))
        #expect(tokenizer.encode("a b a") == [bos, a, b, a, eos])
        #expect(tokenizer.encode("a b a", contextLength: 8) == [bos, a, b, a, eos, eos, eos, eos])
        #expect(tokenizer.encode("a b a", contextLength: 5) == [bos, a, b, a, eos])
        #expect(tokenizer.encode("a b a", contextLength: 4) == [bos, a, b, eos])
        #expect(tokenizer.encode("a b a", contextLength: 2) == [bos, eos])
        #expect(tokenizer.encodeBatch(["", "b"], contextLength: 3) == [[bos, eos, eos], [bos, b, eos]])
    }

    /// decode(encode(s)) is the normalised text with words joined by spaces;
    /// for plain lower-case words separated by single spaces that is s itself.
    @Test func decodeRoundTrip() throws {
        let tokenizer = try CLIPTokenizer(directory: Self.fixture)
        for text in ["a photo of a dog", "two children playing in the snow", "zebra quokka xylophone"] {
            #expect(tokenizer.decode(tokenizer.encode(text)) == text)
        }
        let corpus = try String(contentsOf: Self.fixture.appendingPathComponent("corpus.txt"), encoding: .utf8)
        var checked = 0
        for line in corpus.split(separator: "\n") where line.allSatisfy(\.isASCII) {
            let text = String(line)
            let words = Self.words(String(String.UnicodeScalarView(TextNormalization.normalize(Array(text.unicodeScalars)))))
            #expect(tokenizer.decode(tokenizer.encode(text)) == words.joined(separator: " "), "\(text)")
            checked += 1
        }
        #expect(checked > 250)
        #expect(tokenizer.decode(tokenizer.encode("a cat"), skipSpecialTokens: false) == "<|startoftext|>a cat <|endoftext|>")
        #expect(tokenizer.decode([123_456, -1]) == "")
    }

    @Test func sharedAcrossThreadsWithATinyCache() async throws {
        let corpus = try String(contentsOf: Self.fixture.appendingPathComponent("corpus.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let reference = try CLIPTokenizer(directory: Self.fixture)
        let expected = corpus.map { reference.encode($0) }
        let shared = try CLIPTokenizer(directory: Self.fixture, cacheCapacity: 3)
        let results = await withTaskGroup(of: [[Int32]].self) { group in
            for _ in 0..<4 { group.addTask { corpus.map { shared.encode($0) } } }
            var all: [[[Int32]]] = []
            for await r in group { all.append(r) }
            return all
        }
        #expect(results.count == 4)
        for r in results { #expect(r == expected) }
        #expect(shared.cache.count <= 3)
    }

    @Test func longWordsAreNotCached() throws {
        let tokenizer = try CLIPTokenizer(directory: Self.fixture)
        let long = String(repeating: "ab", count: 200)  // one 400-byte word
        let first = tokenizer.encode(long)
        #expect(tokenizer.cache.count == 0)
        #expect(tokenizer.encode(long) == first)
        _ = tokenizer.encode("short words")
        #expect(tokenizer.cache.count == 2)
    }

    // MARK: Errors name the file and line.

    static func scratchDirectory(vocab: String?, merges: String?) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("conaclip-tokerr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if let vocab { try Data(vocab.utf8).write(to: directory.appendingPathComponent("vocab.json")) }
        if let merges { try Data(merges.utf8).write(to: directory.appendingPathComponent("merges.txt")) }
        return directory
    }

    static func loadError(vocab: String?, merges: String?) throws -> TokenizerError? {
        let directory = try scratchDirectory(vocab: vocab, merges: merges)
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            _ = try CLIPTokenizer(directory: directory)
            return nil
        } catch {
            return error
        }
    }

    static let goodVocab: String = {
        var tokens = ByteLevelEncoding.vocabularyOrder.map { String(Character(ByteLevelEncoding.scalarForByte[Int($0)])) }
        tokens += tokens.map { $0 + "</w>" }
        tokens += ["ab</w>", "<|startoftext|>", "<|endoftext|>"]
        return TokenizerFiles.vocabularyJSON(tokens)
    }()

    @Test func reportsMissingAndBrokenFiles() throws {
        let missing = try Self.loadError(vocab: nil, merges: "#version: 0.2\n")
        guard case .fileNotFound(let file) = missing else { Issue.record("got \(String(describing: missing))"); return }
        #expect(file.hasSuffix("vocab.json"))

        let badMerge = try Self.loadError(vocab: Self.goodVocab, merges: "#version: 0.2\na b</w>\nab\n")
        #expect(badMerge == .malformedMerge(file: badMerge.flatMap(Self.file) ?? "", line: 3, text: "ab"))
        let doubleSpace = try Self.loadError(vocab: Self.goodVocab, merges: "#version: 0.2\na  b</w>\n")
        #expect(doubleSpace.flatMap(Self.line) == 2)
        let blankLine = try Self.loadError(vocab: Self.goodVocab, merges: "#version: 0.2\na b</w>\n\n")
        #expect(blankLine.flatMap(Self.line) == 3)

        let unknownMerge = try Self.loadError(vocab: Self.goodVocab, merges: "#version: 0.2\na b</w>\nb c\n")
        guard case .mergeTokenNotInVocabulary(_, let line, let token) = unknownMerge else {
            Issue.record("got \(String(describing: unknownMerge))"); return
        }
        #expect(line == 3 && token == "bc")

        let badJSON = try Self.loadError(vocab: "{\n  \"a\": 1,\n  \"b\" 2\n}", merges: "")
        guard case .malformedJSON(_, 3, _) = badJSON else { Issue.record("got \(String(describing: badJSON))"); return }
        let badId = try Self.loadError(vocab: "{\n  \"a\": 1,\n  \"b\": 2.5\n}", merges: "")
        guard case .invalidVocabulary(_, 3, _) = badId else { Issue.record("got \(String(describing: badId))"); return }
        let notUTF8 = try Self.scratchDirectory(vocab: Self.goodVocab, merges: nil)
        defer { try? FileManager.default.removeItem(at: notUTF8) }
        try Data([0x23, 0x0A, 0x61, 0x20, 0xFF, 0x0A]).write(to: notUTF8.appendingPathComponent("merges.txt"))
        #expect(throws: TokenizerError.invalidUTF8(file: notUTF8.appendingPathComponent("merges.txt").path, line: 2)) {
            _ = try CLIPTokenizer(directory: notUTF8)
        }
        // Missing byte symbols with no unknown token to stand in.
        #expect(throws: TokenizerError.incompleteByteAlphabet(missing: "!")) {
            _ = try CLIPTokenizer(vocab: ["a": 0, "<|startoftext|>": 1], merges: [],
                                  configuration: { var c = CLIPTokenizerConfiguration(); c.unkToken = nil; return c }())
        }
        // Error text says where and what.
        #expect(TokenizerError.malformedMerge(file: "m.txt", line: 7, text: "x").description.hasPrefix("m.txt:7:"))
    }

    static func file(_ error: TokenizerError) -> String? {
        if case .malformedMerge(let file, _, _) = error { return file }
        return nil
    }

    static func line(_ error: TokenizerError) -> Int? {
        switch error {
        case .malformedMerge(_, let line, _), .malformedJSON(_, let line, _), .invalidVocabulary(_, let line, _),
             .mergeTokenNotInVocabulary(_, let line, _), .invalidUTF8(_, let line):
            return line
        default:
            return nil
        }
    }

    @Test func mergesFileParsing() throws {
        let text = "#version: 0.2\r\na b\r\n#version again\nc d"
        let merges = try TokenizerFiles.parseMerges(Array(text.utf8), file: "m")
        #expect(merges.map { "\($0.left)|\($0.right)|\($0.line)" } == ["a|b|2", "c|d|4"])
    }

    @Test func jsonReaderKeepsExactKeys() throws {
        let json = #"{"\u00e9": 1, "e\u0301": 2, "\ud83d\ude00": 3, "tab\t": 4, "a": 5, "a": 6}"#
        let parsed = try TokenizerJSON.parse(Array(json.utf8), file: "x")
        guard case .object(let members) = parsed else { Issue.record("not an object"); return }
        #expect(members.map { $0.key.unicodeScalars.map(\.value) } == [[0xE9], [0x65, 0x301], [0x1F600], [0x74, 0x61, 0x62, 0x09], [0x61], [0x61]])
        #expect(parsed["a"]?.integerValue == 6)  // the last duplicate wins, as in Python and serde
        #expect(throws: TokenizerError.self) { try TokenizerJSON.parse(Array(#"{"\ud800": 1}"#.utf8), file: "x") }
        #expect(TokenizerJSON.quoted("a\"b\\c\n\u{1}é") == #""a\"b\\c\n\u0001é""#)
    }
}
