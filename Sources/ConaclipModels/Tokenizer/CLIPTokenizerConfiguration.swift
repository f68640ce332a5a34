import Foundation

/// The special-token settings of a CLIP tokenizer, as `tokenizer_config.json`
/// and `special_tokens_map.json` give them, and the rules by which
/// transformers 5 turns them into added tokens.
public struct CLIPTokenizerConfiguration: Sendable, Equatable {
    /// A special-token setting: a bare string, or a token with explicit flags.
    public enum TokenValue: Sendable, Equatable {
        case plain(String)
        case token(AddedToken)

        public var content: String {
            switch self {
            case .plain(let s): return s
            case .token(let t): return t.content
            }
        }

        /// Python's comparison: strings byte for byte, tokens on every flag, never a string with a token.
        public static func == (a: TokenValue, b: TokenValue) -> Bool {
            switch (a, b) {
            case (.plain(let x), .plain(let y)): return x.utf8.elementsEqual(y.utf8)
            case (.token(let x), .token(let y)): return x == y
            default: return false
            }
        }
    }

    /// Named special tokens, nil when unset (`null` in the file). The defaults
    /// are `CLIPTokenizer`'s: `<|startoftext|>` and three times `<|endoftext|>`.
    public var bosToken: TokenValue? = .plain("<|startoftext|>")
    public var eosToken: TokenValue? = .plain("<|endoftext|>")
    public var unkToken: TokenValue? = .plain("<|endoftext|>")
    public var sepToken: TokenValue? = nil
    public var padToken: TokenValue? = .plain("<|endoftext|>")
    public var clsToken: TokenValue? = nil
    public var maskToken: TokenValue? = nil
    /// `additional_special_tokens` / `extra_special_tokens`.
    public var extraSpecialTokens: [TokenValue] = []
    /// `added_tokens_decoder`, sorted by id.
    public var addedTokensDecoder: [(id: Int, token: AddedToken)] = []
    /// `model_max_length`, when the file gives a sensible one.
    public var modelMaxLength: Int? = nil

    public init() {}

    public static func == (a: Self, b: Self) -> Bool {
        a.bosToken == b.bosToken && a.eosToken == b.eosToken && a.unkToken == b.unkToken
            && a.sepToken == b.sepToken && a.padToken == b.padToken && a.clsToken == b.clsToken
            && a.maskToken == b.maskToken && a.extraSpecialTokens == b.extraSpecialTokens
            && a.modelMaxLength == b.modelMaxLength
            && a.addedTokensDecoder.map(\.id) == b.addedTokensDecoder.map(\.id)
            && a.addedTokensDecoder.map(\.token) == b.addedTokensDecoder.map(\.token)
    }

    /// Named tokens in transformers' `SPECIAL_TOKENS_ATTRIBUTES` order.
    var namedTokens: [TokenValue?] { [bosToken, eosToken, unkToken, sepToken, padToken, clsToken, maskToken] }

    /// The tokens transformers 5 adds to the backend, in order
    /// (`TokenizersBackend.__init__`): `added_tokens_decoder` first, then the
    /// named and extra special tokens whose content is not already there.
    /// Bare strings become special tokens matched in raw text.
    func tokensToAdd() -> [AddedToken] {
        var pending: [TokenValue] = addedTokensDecoder.map { .token($0.token) }
        let decoderContents = Set(addedTokensDecoder.map { Array($0.token.content.utf8) })
        for value in namedTokens.compactMap({ $0 }) + extraSpecialTokens
        where !decoderContents.contains(Array(value.content.utf8)) && !pending.contains(value) {
            pending.append(value)
        }
        let namedContents = Set(namedTokens.compactMap { $0.map { Array($0.content.utf8) } })
        return pending.map { value in
            switch value {
            case .plain(let s):
                return AddedToken(s, special: true)
            case .token(var t):
                if !t.special && namedContents.contains(Array(t.content.utf8)) { t.special = true }
                return t
            }
        }
    }

    // MARK: Reading the files

    /// Reads `tokenizer_config.json` and `special_tokens_map.json` from a
    /// directory, applying them as transformers does; missing files leave the
    /// defaults. `special_tokens_map.json` is only consulted when the config
    /// has no `added_tokens_decoder`, and then its entries override the config's.
    public static func load(directory: URL) throws(TokenizerError) -> CLIPTokenizerConfiguration {
        var configuration = CLIPTokenizerConfiguration()
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        let mapURL = directory.appendingPathComponent("special_tokens_map.json")
        var decoderByContent: [[UInt8]: AddedToken] = [:]
        var hasDecoder = false
        if let config = try readJSONIfPresent(configURL) {
            let file = configURL.path
            guard case .object = config else { throw .invalidConfiguration(file: file, reason: "the top level must be an object") }
            if let decoder = config["added_tokens_decoder"], !decoder.isNull {
                hasDecoder = true
                guard case .object(let members) = decoder else {
                    throw .invalidConfiguration(file: file, reason: "added_tokens_decoder must be an object of id -> token")
                }
                var entries: [(id: Int, token: AddedToken)] = []
                for member in members {
                    guard let id = Int(member.key), id >= 0 else {
                        throw .invalidConfiguration(file: file, reason: "added_tokens_decoder key \(String(reflecting: member.key)) is not a token id")
                    }
                    let token = try addedToken(from: member.value, file: file, field: "added_tokens_decoder[\(member.key)]", forceSpecial: false)
                    entries.removeAll { $0.id == id }
                    entries.append((id, token))
                    decoderByContent[Array(token.content.utf8)] = token
                }
                configuration.addedTokensDecoder = entries.sorted { $0.id < $1.id }
            }
            try configuration.applyNamed(from: config, file: file, dictsAreSpecial: false)
            if let length = config["model_max_length"]?.integerValue, length > 0, length < 1_000_000 {
                configuration.modelMaxLength = length
            }
        }
        if !hasDecoder, let map = try readJSONIfPresent(mapURL) {
            guard case .object = map else { throw .invalidConfiguration(file: mapURL.path, reason: "the top level must be an object") }
            try configuration.applyNamed(from: map, file: mapURL.path, dictsAreSpecial: true)
        }
        // A named token whose content appears in added_tokens_decoder is that entry.
        if !decoderByContent.isEmpty {
            func replace(_ value: inout TokenValue?) {
                if let v = value, let t = decoderByContent[Array(v.content.utf8)] { value = .token(t) }
            }
            replace(&configuration.bosToken); replace(&configuration.eosToken); replace(&configuration.unkToken)
            replace(&configuration.sepToken); replace(&configuration.padToken); replace(&configuration.clsToken)
            replace(&configuration.maskToken)
        }
        return configuration
    }

    private mutating func applyNamed(from json: TokenizerJSON, file: String, dictsAreSpecial: Bool) throws(TokenizerError) {
        func value(_ key: String) throws(TokenizerError) -> TokenValue?? {
            guard json.has(key), let raw = json[key] else { return .none }
            if raw.isNull { return .some(nil) }
            if let s = raw.stringValue { return .some(.plain(s)) }
            if case .object = raw {
                return .some(.token(try Self.addedToken(from: raw, file: file, field: key, forceSpecial: dictsAreSpecial)))
            }
            throw .invalidConfiguration(file: file, reason: "\(key) must be a string, a token object or null")
        }
        if let v = try value("bos_token") { bosToken = v }
        if let v = try value("eos_token") { eosToken = v }
        if let v = try value("unk_token") { unkToken = v }
        if let v = try value("sep_token") { sepToken = v }
        if let v = try value("pad_token") { padToken = v }
        if let v = try value("cls_token") { clsToken = v }
        if let v = try value("mask_token") { maskToken = v }
        for key in ["additional_special_tokens", "extra_special_tokens"] {
            guard let raw = json[key], case .array(let items) = raw else { continue }
            var tokens: [TokenValue] = []
            for (i, item) in items.enumerated() {
                if let s = item.stringValue { tokens.append(.plain(s)); continue }
                tokens.append(.token(try Self.addedToken(from: item, file: file, field: "\(key)[\(i)]", forceSpecial: dictsAreSpecial)))
            }
            if !tokens.isEmpty { extraSpecialTokens = tokens }
        }
    }

    private static func addedToken(from json: TokenizerJSON, file: String, field: String, forceSpecial: Bool) throws(TokenizerError) -> AddedToken {
        guard case .object = json, let content = json["content"]?.stringValue else {
            throw .invalidConfiguration(file: file, reason: "\(field) must be an object with a string \"content\"")
        }
        func flag(_ key: String) throws(TokenizerError) -> Bool? {
            guard let raw = json[key], !raw.isNull else { return nil }
            guard let b = raw.boolValue else { throw .invalidConfiguration(file: file, reason: "\(field).\(key) must be true or false") }
            return b
        }
        return AddedToken(content, special: forceSpecial ? true : (try flag("special") ?? false),
                          singleWord: try flag("single_word") ?? false, lstrip: try flag("lstrip") ?? false,
                          rstrip: try flag("rstrip") ?? false, normalized: try flag("normalized"))
    }

    private static func readJSONIfPresent(_ url: URL) throws(TokenizerError) -> TokenizerJSON? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try TokenizerJSON.parse(readBytes(url), file: url.path)
    }

    /// The bytes of a file, with typed errors.
    static func readBytes(_ url: URL) throws(TokenizerError) -> [UInt8] {
        guard FileManager.default.fileExists(atPath: url.path) else { throw .fileNotFound(file: url.path) }
        do {
            return Array(try Data(contentsOf: url))
        } catch {
            throw .fileAccessFailed(file: url.path, reason: String(describing: error))
        }
    }
}
