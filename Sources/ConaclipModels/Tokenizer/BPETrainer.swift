import Foundation

/// Learns a byte-level BPE vocabulary in OpenAI CLIP's layout from captions,
/// for text towers trained from scratch (CLIP's 49,408 tokens are far too
/// many for a small model). The result is written as `vocab.json`,
/// `merges.txt`, `tokenizer_config.json` and `special_tokens_map.json`, which
/// both `CLIPTokenizer` and Hugging Face's `CLIPTokenizer` load.
///
/// Captions are split into words exactly as the tokenizer does (special
/// tokens cut out, NFC, lower case, CLIP's regex). The vocabulary starts with
/// the 256 byte symbols and their 256 `</w>` forms in CLIP's order, then
/// repeatedly merges the most frequent adjacent pair (counted over all word
/// occurrences); ties go to the pair whose left, then right, token has the
/// smaller id. `<|startoftext|>` and `<|endoftext|>` close the vocabulary.
/// The output depends only on the multiset of captions, not on their order,
/// and is byte-for-byte reproducible.
public struct BPETrainer: Sendable {
    /// Total vocabulary size to reach: 512 byte symbols + merges + 2 special tokens.
    public var vocabularySize: Int
    /// Pairs seen fewer times than this are never merged (training may then stop early).
    public var minimumPairFrequency: Int
    /// `model_max_length` written to `tokenizer_config.json`.
    public var contextLength: Int

    public static let startToken = "<|startoftext|>"
    public static let endToken = "<|endoftext|>"
    /// Byte symbols, their `</w>` forms and the two special tokens.
    public static let minimumVocabularySize = 514

    public init(vocabularySize: Int, minimumPairFrequency: Int = 2, contextLength: Int = 77) {
        self.vocabularySize = vocabularySize
        self.minimumPairFrequency = minimumPairFrequency
        self.contextLength = contextLength
    }

    /// Learns merges from `captions`.
    public func train<S: Sequence>(_ captions: S) throws(TokenizerError) -> BPEVocabulary where S.Element == String {
        guard vocabularySize >= Self.minimumVocabularySize, vocabularySize < Int(Int32.max) else {
            throw .invalidTrainerArgument("vocabularySize must be at least \(Self.minimumVocabularySize) (512 byte symbols + 2 special tokens), got \(vocabularySize)")
        }
        guard minimumPairFrequency >= 1 else {
            throw .invalidTrainerArgument("minimumPairFrequency must be at least 1, got \(minimumPairFrequency)")
        }
        guard contextLength >= 2 else {
            throw .invalidTrainerArgument("contextLength must be at least 2 (start and end tokens), got \(contextLength)")
        }

        // 1. Count words.
        var wordCounts: [[UInt8]: Int] = [:]
        var specials = AddedVocabulary()
        specials.add([AddedToken(Self.startToken, special: true), AddedToken(Self.endToken, special: true)],
                     modelVocabulary: [:], modelVocabularyCount: 0)
        for caption in captions {
            let raw = Array(caption.unicodeScalars)
            for case .text(let range) in specials.split(raw, normalizedStage: false) {
                let normalized = TextNormalization.normalize(Array(raw[range]))
                for word in CLIPPreTokenizer.split(normalized) {
                    var bytes: [UInt8] = []
                    for scalar in normalized[word] { ByteLevelEncoding.appendUTF8(scalar, to: &bytes) }
                    wordCounts[bytes, default: 0] += 1
                }
            }
        }

        // 2. Initial alphabet in CLIP's order.
        var tokens: [String] = []
        var idForByte = [Int32](repeating: 0, count: 256)
        for (index, byte) in ByteLevelEncoding.vocabularyOrder.enumerated() {
            idForByte[Int(byte)] = Int32(index)
            tokens.append(String(Character(ByteLevelEncoding.scalarForByte[Int(byte)])))
        }
        for index in 0..<256 { tokens.append(tokens[index] + "</w>") }
        var idForToken: [[UInt8]: Int32] = [:]
        for (id, token) in tokens.enumerated() { idForToken[Array(token.utf8)] = Int32(id) }

        let sortedWords = wordCounts.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        var words: [[Int32]] = sortedWords.map { entry in
            entry.key.enumerated().map { i, byte in
                idForByte[Int(byte)] + (i == entry.key.count - 1 ? 256 : 0)
            }
        }
        let counts = sortedWords.map(\.value)

        // 3. Pair statistics.
        var pairCounts: [UInt64: Int] = [:]
        var pairWords: [UInt64: [Int32]] = [:]
        for (w, word) in words.enumerated() where word.count > 1 {
            for i in 0..<(word.count - 1) {
                let key = Self.pairKey(word[i], word[i + 1])
                pairCounts[key, default: 0] += counts[w]
                pairWords[key, default: []].append(Int32(w))
            }
        }
        var heap = PairHeap()
        for (key, count) in pairCounts { heap.push(count: count, key: key) }

        // 4. Merge.
        var merges: [(Int32, Int32)] = []
        let mergeTarget = vocabularySize - 2
        var lastVisit = [Int](repeating: -1, count: words.count)
        while tokens.count < mergeTarget, let top = heap.pop() {
            let current = pairCounts[top.key] ?? 0
            if current != top.count {
                if current >= minimumPairFrequency { heap.push(count: current, key: top.key) }
                continue
            }
            if current < minimumPairFrequency { break }
            let left = Int32(truncatingIfNeeded: top.key >> 32)
            let right = Int32(truncatingIfNeeded: top.key & 0xFFFF_FFFF)
            let mergedBytes = Array(tokens[Int(left)].utf8) + Array(tokens[Int(right)].utf8)
            let merged: Int32
            if let existing = idForToken[mergedBytes] {
                merged = existing
            } else {
                merged = Int32(tokens.count)
                tokens.append(tokens[Int(left)] + tokens[Int(right)])
                idForToken[mergedBytes] = merged
            }
            merges.append((left, right))

            var grown: Set<UInt64> = []
            let step = merges.count
            for w32 in pairWords[top.key] ?? [] {
                let w = Int(w32)
                if lastVisit[w] == step { continue }
                lastVisit[w] = step
                let word = words[w]
                var newWord: [Int32] = []
                newWord.reserveCapacity(word.count)
                var i = 0
                var changed = false
                while i < word.count {
                    if i + 1 < word.count && word[i] == left && word[i + 1] == right {
                        newWord.append(merged); i += 2; changed = true
                    } else {
                        newWord.append(word[i]); i += 1
                    }
                }
                if !changed { continue }
                let c = counts[w]
                for j in 0..<(word.count - 1) {
                    pairCounts[Self.pairKey(word[j], word[j + 1]), default: 0] -= c
                }
                if newWord.count > 1 {
                    for j in 0..<(newWord.count - 1) {
                        let key = Self.pairKey(newWord[j], newWord[j + 1])
                        pairCounts[key, default: 0] += c
                        if newWord[j] == merged || newWord[j + 1] == merged {
                            grown.insert(key)
                            pairWords[key, default: []].append(w32)
                        }
                    }
                }
                words[w] = newWord
            }
            pairWords[top.key] = nil
            for key in grown.sorted() {
                if let count = pairCounts[key], count >= minimumPairFrequency { heap.push(count: count, key: key) }
            }
        }
        tokens.append(Self.startToken)
        tokens.append(Self.endToken)
        return BPEVocabulary(tokens: tokens,
                             merges: merges.map { (tokens[Int($0.0)], tokens[Int($0.1)]) },
                             contextLength: contextLength)
    }

    @inline(__always)
    static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        (UInt64(UInt32(bitPattern: left)) << 32) | UInt64(UInt32(bitPattern: right))
    }

    /// Max-heap of (count, pair): highest count first, then smallest pair key.
    private struct PairHeap {
        private var items: [(count: Int, key: UInt64)] = []

        @inline(__always)
        private static func precedes(_ a: (count: Int, key: UInt64), _ b: (count: Int, key: UInt64)) -> Bool {
            a.count != b.count ? a.count > b.count : a.key < b.key
        }

        mutating func push(count: Int, key: UInt64) {
            items.append((count, key))
            var child = items.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard Self.precedes(items[child], items[parent]) else { break }
                items.swapAt(child, parent)
                child = parent
            }
        }

        mutating func pop() -> (count: Int, key: UInt64)? {
            guard let first = items.first else { return nil }
            let last = items.removeLast()
            if items.isEmpty { return first }
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                if left >= items.count { break }
                var best = left
                if left + 1 < items.count && Self.precedes(items[left + 1], items[left]) { best = left + 1 }
                guard Self.precedes(items[best], items[parent]) else { break }
                items.swapAt(best, parent)
                parent = best
            }
            return first
        }
    }
}

/// A learned CLIP-layout BPE vocabulary: tokens in id order and merges in
/// rank order, ready to be written as Hugging Face tokenizer files.
public struct BPEVocabulary: Sendable, Equatable {
    /// Token strings; the index is the id. The last two are `<|startoftext|>` and `<|endoftext|>`.
    public var tokens: [String]
    /// Merges in rank order.
    public var merges: [(String, String)]
    /// `model_max_length` for `tokenizer_config.json`.
    public var contextLength: Int

    public static func == (a: Self, b: Self) -> Bool {
        a.tokens == b.tokens && a.contextLength == b.contextLength
            && a.merges.map(\.0) == b.merges.map(\.0) && a.merges.map(\.1) == b.merges.map(\.1)
    }

    /// The file contents, by file name.
    public var files: [(name: String, contents: String)] {
        let startId = tokens.count - 2
        func special(_ content: String, markSpecial: Bool) -> String {
            let fields = "\"content\": \(TokenizerJSON.quoted(content)), \"lstrip\": false, \"normalized\": false, "
                + "\"rstrip\": false, \"single_word\": false"
            return markSpecial ? "{\(fields), \"special\": true}" : "{\(fields)}"
        }
        let config = """
        {
          "added_tokens_decoder": {
            "\(startId)": \(special(BPETrainer.startToken, markSpecial: true)),
            "\(startId + 1)": \(special(BPETrainer.endToken, markSpecial: true))
          },
          "bos_token": "<|startoftext|>",
          "clean_up_tokenization_spaces": false,
          "do_lower_case": true,
          "eos_token": "<|endoftext|>",
          "errors": "replace",
          "model_max_length": \(contextLength),
          "pad_token": "<|endoftext|>",
          "tokenizer_class": "CLIPTokenizer",
          "unk_token": "<|endoftext|>"
        }

        """
        let map = """
        {
          "bos_token": \(special(BPETrainer.startToken, markSpecial: false)),
          "eos_token": \(special(BPETrainer.endToken, markSpecial: false)),
          "pad_token": "<|endoftext|>",
          "unk_token": \(special(BPETrainer.endToken, markSpecial: false))
        }

        """
        return [
            ("vocab.json", TokenizerFiles.vocabularyJSON(tokens)),
            ("merges.txt", TokenizerFiles.mergesText(merges)),
            ("tokenizer_config.json", config),
            ("special_tokens_map.json", map),
        ]
    }

    /// Writes the four files into `directory`, creating it if needed.
    public func write(to directory: URL) throws(TokenizerError) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw .fileAccessFailed(file: directory.path, reason: "cannot create directory: \(error)")
        }
        for file in files {
            try TokenizerFiles.write(file.contents, to: directory.appendingPathComponent(file.name))
        }
    }

    /// A tokenizer for this vocabulary (the same one `write(to:)` + `CLIPTokenizer(directory:)` gives).
    public func makeTokenizer() throws(TokenizerError) -> CLIPTokenizer {
        var configuration = CLIPTokenizerConfiguration()
        let startId = tokens.count - 2
        configuration.addedTokensDecoder = [
            (startId, AddedToken(BPETrainer.startToken, special: true, normalized: false)),
            (startId + 1, AddedToken(BPETrainer.endToken, special: true, normalized: false)),
        ]
        configuration.bosToken = .token(configuration.addedTokensDecoder[0].token)
        configuration.eosToken = .token(configuration.addedTokensDecoder[1].token)
        configuration.unkToken = .token(configuration.addedTokensDecoder[1].token)
        configuration.padToken = .token(configuration.addedTokensDecoder[1].token)
        configuration.modelMaxLength = contextLength
        let entries = tokens.enumerated().map { TokenizerFiles.VocabularyEntry(token: $1, id: Int32($0), line: $0 + 2) }
        let mergeEntries = merges.enumerated().map { TokenizerFiles.MergeEntry(left: $1.0, right: $1.1, line: $0 + 2) }
        return try CLIPTokenizer(entries: entries, merges: mergeEntries, vocabFile: "vocab.json", mergesFile: "merges.txt",
                                 configuration: configuration, cacheCapacity: 50_000)
    }
}
