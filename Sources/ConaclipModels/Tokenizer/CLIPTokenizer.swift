import Foundation

/// The CLIP byte-level BPE tokenizer. It reads Hugging Face's `vocab.json` +
/// `merges.txt` (and `tokenizer_config.json` / `special_tokens_map.json` when
/// present) and produces exactly the ids of transformers 5's
/// `CLIPTokenizer.from_pretrained(dir)`, which is backed by the Rust
/// `tokenizers` library (transformers 5 has no separate "slow" CLIP tokenizer):
///
/// 1. added/special tokens (`<|startoftext|>`, `<|endoftext|>`, ...) are cut
///    out of the raw text, or out of the normalised text for tokens flagged
///    `normalized`;
/// 2. the rest is normalised: NFC, whitespace runs -> one space, lower case;
/// 3. split into words by CLIP's regex (`CLIPPreTokenizer`);
/// 4. each word's UTF-8 bytes become byte-level symbols, the last one with
///    `</w>`, and BPE merges them (`BPEMerges`); a symbol missing from the
///    vocabulary becomes the unknown token;
/// 5. `<|startoftext|>` and `<|endoftext|>` go around the result; batches are
///    truncated to keep the end token last and padded with the pad token.
///
/// Differences from transformers 4's slow tokenizer without `ftfy` (its
/// `BasicTokenizer` path), which transformers 5 no longer has: that one
/// deleted control and format characters (e.g. U+200B) and U+FFFD, and put
/// spaces around every CJK ideograph, so `你好` was two words there and is
/// one here. It also kept only the first 48,894 merges.
///
/// Safe to share between threads; the per-word BPE cache is locked.
public final class CLIPTokenizer: Sendable {
    /// Model vocabulary (`vocab.json`), keyed by the token's UTF-8.
    private let vocabulary: [[UInt8]: Int32]
    /// id -> token for ids in `vocab.json` and added tokens.
    private let tokensById: [Int32: String]
    /// Vocabulary id of each byte's symbol, and of the symbol with `</w>`; -1 when missing.
    private let byteIds: [Int32]
    private let byteEndIds: [Int32]
    private let merges: BPEMerges
    private let addedVocabulary: AddedVocabulary
    private let specialIds: Set<Int32>
    let cache: WordCache

    /// The settings the tokenizer was built with.
    public let configuration: CLIPTokenizerConfiguration
    /// Id of `<|startoftext|>` (the BOS token), written before every text.
    public let bosTokenId: Int32
    /// Id of `<|endoftext|>` (the EOS token), written after every text; CLIP pools the text tower here.
    public let eosTokenId: Int32
    /// Id used to pad a batch (CLIP: the EOS token unless the config names another pad token).
    public let padTokenId: Int32
    /// Id of the unknown token in `vocab.json`, stood in for byte symbols the vocabulary lacks.
    public let unknownTokenId: Int32?
    /// One more than the largest id (the embedding table's row count).
    public let vocabularySize: Int
    /// `model_max_length` from `tokenizer_config.json`, if given (77 for OpenAI CLIP).
    public var modelMaxLength: Int? { configuration.modelMaxLength }

    /// Loads `vocab.json`, `merges.txt` and, when present,
    /// `tokenizer_config.json` and `special_tokens_map.json` from a directory.
    public convenience init(directory: URL, cacheCapacity: Int = 50_000) throws(TokenizerError) {
        let vocabURL = directory.appendingPathComponent("vocab.json")
        let mergesURL = directory.appendingPathComponent("merges.txt")
        let vocabBytes = try CLIPTokenizerConfiguration.readBytes(vocabURL)
        let mergesBytes = try CLIPTokenizerConfiguration.readBytes(mergesURL)
        let vocab = try TokenizerFiles.parseVocabulary(vocabBytes, file: vocabURL.path)
        let merges = try TokenizerFiles.parseMerges(mergesBytes, file: mergesURL.path)
        let configuration = try CLIPTokenizerConfiguration.load(directory: directory)
        try self.init(entries: vocab, merges: merges, vocabFile: vocabURL.path, mergesFile: mergesURL.path,
                      configuration: configuration, cacheCapacity: cacheCapacity)
    }

    /// Builds a tokenizer from an in-memory vocabulary and merge list (merges
    /// in rank order). Errors name "vocab" / "merges" and the 1-based entry.
    public convenience init(vocab: [String: Int], merges: [(String, String)],
                            configuration: CLIPTokenizerConfiguration = CLIPTokenizerConfiguration(),
                            cacheCapacity: Int = 50_000) throws(TokenizerError) {
        var entries: [TokenizerFiles.VocabularyEntry] = []
        for (index, pair) in vocab.sorted(by: { $0.value < $1.value }).enumerated() {
            guard pair.value >= 0, pair.value < Int(Int32.max) else {
                throw .invalidVocabulary(file: "vocab", line: index + 1, reason: "the id of \(String(reflecting: pair.key)) must be a non-negative integer below 2^31")
            }
            entries.append(.init(token: pair.key, id: Int32(pair.value), line: index + 1))
        }
        let mergeEntries = merges.enumerated().map { TokenizerFiles.MergeEntry(left: $1.0, right: $1.1, line: $0 + 1) }
        try self.init(entries: entries, merges: mergeEntries, vocabFile: "vocab", mergesFile: "merges",
                      configuration: configuration, cacheCapacity: cacheCapacity)
    }

    init(entries: [TokenizerFiles.VocabularyEntry], merges mergeEntries: [TokenizerFiles.MergeEntry],
         vocabFile: String, mergesFile: String, configuration: CLIPTokenizerConfiguration,
         cacheCapacity: Int) throws(TokenizerError) {
        var vocabulary: [[UInt8]: Int32] = [:]
        vocabulary.reserveCapacity(entries.count)
        var tokensById: [Int32: String] = [:]
        for entry in entries {
            vocabulary[Array(entry.token.utf8)] = entry.id
            tokensById[entry.id] = entry.token
        }
        // Resolve merges to ids; the merged token is left + right.
        var resolved: [(left: Int32, right: Int32, merged: Int32)] = []
        resolved.reserveCapacity(mergeEntries.count)
        for merge in mergeEntries {
            guard let left = vocabulary[Array(merge.left.utf8)] else {
                throw .mergeTokenNotInVocabulary(file: mergesFile, line: merge.line, token: merge.left)
            }
            guard let right = vocabulary[Array(merge.right.utf8)] else {
                throw .mergeTokenNotInVocabulary(file: mergesFile, line: merge.line, token: merge.right)
            }
            guard let merged = vocabulary[Array(merge.left.utf8) + Array(merge.right.utf8)] else {
                throw .mergeTokenNotInVocabulary(file: mergesFile, line: merge.line, token: merge.left + merge.right)
            }
            resolved.append((left, right, merged))
        }
        self.merges = BPEMerges(resolved)

        var added = AddedVocabulary()
        added.add(configuration.tokensToAdd(), modelVocabulary: vocabulary, modelVocabularyCount: vocabulary.count)
        for id in added.tokensById.keys { tokensById[id] = added.tokenString(for: id) }

        let unknown = configuration.unkToken.flatMap { vocabulary[Array($0.content.utf8)] }
        var byteIds = [Int32](repeating: -1, count: 256)
        var byteEndIds = [Int32](repeating: -1, count: 256)
        for byteValue in ByteLevelEncoding.vocabularyOrder {
            let byte = Int(byteValue)
            let symbol = Array(String(Character(ByteLevelEncoding.scalarForByte[byte])).utf8)
            byteIds[byte] = vocabulary[symbol] ?? -1
            byteEndIds[byte] = vocabulary[symbol + Array("</w>".utf8)] ?? -1
            if unknown == nil {
                let name = String(Character(ByteLevelEncoding.scalarForByte[byte]))
                if byteIds[byte] < 0 { throw .incompleteByteAlphabet(missing: name) }
                if byteEndIds[byte] < 0 { throw .incompleteByteAlphabet(missing: name + "</w>") }
            }
        }

        func id(of value: CLIPTokenizerConfiguration.TokenValue?) -> Int32? {
            guard let value else { return nil }
            let key = Array(value.content.utf8)
            return added.ids[key] ?? vocabulary[key] ?? unknown
        }
        let bos = id(of: configuration.bosToken)
        let eos = id(of: configuration.eosToken)
        guard let bos, let eos else {
            throw .invalidConfiguration(file: vocabFile, reason: "the start and end tokens must be set (bos_token, eos_token)")
        }
        self.bosTokenId = bos
        self.eosTokenId = eos
        self.padTokenId = id(of: configuration.padToken) ?? eos
        self.unknownTokenId = unknown
        self.vocabulary = vocabulary
        self.tokensById = tokensById
        self.byteIds = byteIds
        self.byteEndIds = byteEndIds
        self.addedVocabulary = added
        self.specialIds = added.specialIds
        self.configuration = configuration
        self.vocabularySize = Int(max(tokensById.keys.max() ?? -1, bos, eos)) + 1
        self.cache = WordCache(capacity: cacheCapacity)
    }

    // MARK: Encoding

    /// The ids of `text` between the start and end tokens, not padded or truncated.
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = [bosTokenId]
        appendContentIds(of: text, to: &ids)
        ids.append(eosTokenId)
        return ids
    }

    /// The ids of `text` without start and end tokens.
    public func encodeWithoutSpecialTokens(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        appendContentIds(of: text, to: &ids)
        return ids
    }

    /// `text` as exactly `contextLength` ids, like Hugging Face's
    /// `tokenizer(text, truncation=True, max_length=contextLength, padding="max_length")`:
    /// start token, at most `contextLength - 2` text tokens, end token, pad tokens.
    public func encode(_ text: String, contextLength: Int) -> [Int32] {
        precondition(contextLength >= 2, "a context must hold at least the start and end tokens")
        var ids: [Int32] = [bosTokenId]
        ids.reserveCapacity(contextLength)
        appendContentIds(of: text, to: &ids)
        if ids.count > contextLength - 1 { ids.removeSubrange((contextLength - 1)...) }
        ids.append(eosTokenId)
        while ids.count < contextLength { ids.append(padTokenId) }
        return ids
    }

    /// Each text as exactly `contextLength` ids (see `encode(_:contextLength:)`).
    public func encodeBatch(_ texts: [String], contextLength: Int) -> [[Int32]] {
        texts.map { encode($0, contextLength: contextLength) }
    }

    /// The token strings of `text` (without start and end tokens), for inspection.
    public func tokenize(_ text: String) -> [String] {
        encodeWithoutSpecialTokens(text).map { tokensById[$0] ?? "" }
    }

    /// The id of a token string, looking at added tokens first, then `vocab.json`.
    public func tokenId(for token: String) -> Int32? {
        let key = Array(token.utf8)
        return addedVocabulary.ids[key] ?? vocabulary[key]
    }

    /// The token string of an id.
    public func token(for id: Int32) -> String? { tokensById[id] }

    private func appendContentIds(of text: String, to ids: inout [Int32]) {
        let raw = Array(text.unicodeScalars)
        for segment in addedVocabulary.split(raw, normalizedStage: false) {
            switch segment {
            case .token(let id):
                ids.append(id)
            case .text(let range):
                let normalized = TextNormalization.normalize(Array(raw[range]))
                for inner in addedVocabulary.split(normalized, normalizedStage: true) {
                    switch inner {
                    case .token(let id):
                        ids.append(id)
                    case .text(let innerRange):
                        let piece = innerRange == normalized.indices ? normalized : Array(normalized[innerRange])
                        for word in CLIPPreTokenizer.split(piece) { appendWordIds(piece[word], to: &ids) }
                    }
                }
            }
        }
    }

    /// BPE for one word, through the cache.
    private func appendWordIds(_ word: ArraySlice<Unicode.Scalar>, to ids: inout [Int32]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(word.count * 2)
        for scalar in word { ByteLevelEncoding.appendUTF8(scalar, to: &bytes) }
        if let cached = cache.lookup(bytes) {
            ids.append(contentsOf: cached)
            return
        }
        var symbols: [Int32] = []
        symbols.reserveCapacity(bytes.count)
        for (i, byte) in bytes.enumerated() {
            let id = i == bytes.count - 1 ? byteEndIds[Int(byte)] : byteIds[Int(byte)]
            // A missing symbol becomes the unknown token (init guarantees one exists then).
            if id >= 0 { symbols.append(id) } else if let unknownTokenId { symbols.append(unknownTokenId) }
        }
        let merged = merges.merge(symbols)
        // Like `tokenizers`, only words of up to 256 bytes are cached, so a
        // hostile caption cannot fill memory through the cache.
        if bytes.count <= WordCache.maximumWordLength { cache.insert(bytes, merged) }
        ids.append(contentsOf: merged)
    }

    // MARK: Decoding

    /// Text for ids, as Hugging Face's `decode`: each token's byte-level symbols
    /// back to bytes (a token that is not byte-level text contributes its own
    /// UTF-8), invalid UTF-8 replaced by U+FFFD, `</w>` replaced by a space,
    /// and surrounding whitespace stripped. Unknown ids are skipped; special
    /// tokens too unless `skipSpecialTokens` is false.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = true) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            if skipSpecialTokens && specialIds.contains(id) { continue }
            guard let token = tokensById[id] else { continue }
            if let tokenBytes = ByteLevelEncoding.decode(token) {
                bytes.append(contentsOf: tokenBytes)
            } else {
                bytes.append(contentsOf: token.utf8)
            }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        // Replace "</w>" on the UTF-8 of the decoded text (ASCII, so scalar-aligned).
        let marker = Array("</w>".utf8)
        var replaced: [UInt8] = []
        replaced.reserveCapacity(bytes.count)
        let utf8 = Array(text.utf8)
        var i = 0
        while i < utf8.count {
            if utf8[i] == marker[0], i + 4 <= utf8.count, utf8[(i + 1)..<(i + 4)].elementsEqual(marker[1...]) {
                replaced.append(UInt8(ascii: " "))
                i += 4
            } else {
                replaced.append(utf8[i])
                i += 1
            }
        }
        let scalars = Array(String(decoding: replaced, as: UTF8.self).unicodeScalars)
        var start = 0
        var end = scalars.count
        while start < end && TextNormalization.isPythonWhitespace(scalars[start]) { start += 1 }
        while end > start && TextNormalization.isPythonWhitespace(scalars[end - 1]) { end -= 1 }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[start..<end])
        return String(view)
    }
}
