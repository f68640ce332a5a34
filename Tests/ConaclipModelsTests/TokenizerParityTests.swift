import Foundation
import Testing
import ConaclipModels

/// `CLIPTokenizer` against Hugging Face: every id, padded batch and decoded
/// string in `Fixtures/tokenizer/expected.json` was produced by transformers 5's
/// `CLIPTokenizer.from_pretrained` (Tests/Reference/make_tokenizer_fixture.py)
/// and must be reproduced exactly.
@Suite struct TokenizerParityTests {
    struct Expected: Decodable {
        struct Case: Decodable {
            var text: String
            var ids: [Int32]
            var decoded: String
            var decodedWithSpecial: String
            var padded: [String: [Int32]]
            enum CodingKeys: String, CodingKey {
                case text, ids, decoded, padded, decodedWithSpecial = "decoded_with_special"
            }
        }
        struct DecodeCase: Decodable {
            var ids: [Int32]
            var decoded: String
            var decodedWithSpecial: String
            enum CodingKeys: String, CodingKey { case ids, decoded, decodedWithSpecial = "decoded_with_special" }
        }
        struct Record: Decodable {
            var bosTokenId: Int32
            var eosTokenId: Int32
            var padTokenId: Int32
            var unkTokenId: Int32
            var length: Int
            var specialIds: [Int32]
            var cases: [Case]
            var decodeCases: [DecodeCase]
            enum CodingKeys: String, CodingKey {
                case bosTokenId = "bos_token_id", eosTokenId = "eos_token_id", padTokenId = "pad_token_id"
                case unkTokenId = "unk_token_id", length, specialIds = "special_ids", cases
                case decodeCases = "decode_cases"
            }
        }
        var configs: [String: Record]
        var tiny: Record
    }

    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizer")

    static let expected: Expected? = {
        guard let data = try? Data(contentsOf: fixture.appendingPathComponent("expected.json")) else { return nil }
        return try? JSONDecoder().decode(Expected.self, from: data)
    }()

    /// A directory holding the shared vocabulary and one configuration variant.
    static func directory(for config: String) throws -> URL {
        if config == "trainer" { return fixture }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("conaclip-tok-\(config)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(at: fixture.appendingPathComponent(name),
                                             to: directory.appendingPathComponent(name))
        }
        let variant = fixture.appendingPathComponent("configs/\(config)")
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            let source = variant.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: source.path) {
                try FileManager.default.copyItem(at: source, to: directory.appendingPathComponent(name))
            }
        }
        return directory
    }

    /// Exact comparison (Swift's `==` on strings is canonical equivalence).
    static func scalars(_ s: String) -> [UInt32] { s.unicodeScalars.map(\.value) }

    static func check(_ tokenizer: CLIPTokenizer, against record: Expected.Record, label: String) {
        #expect(tokenizer.bosTokenId == record.bosTokenId, "\(label): bos")
        #expect(tokenizer.eosTokenId == record.eosTokenId, "\(label): eos")
        #expect(tokenizer.padTokenId == record.padTokenId, "\(label): pad")
        #expect(tokenizer.unknownTokenId == record.unkTokenId, "\(label): unk")
        #expect(tokenizer.vocabularySize == record.length, "\(label): vocabulary size")
        for item in record.cases {
            let name = "\(label): \(String(reflecting: String(item.text.prefix(60))))"
            #expect(tokenizer.encode(item.text) == item.ids, "\(name) ids")
            for (length, ids) in item.padded {
                #expect(tokenizer.encode(item.text, contextLength: Int(length) ?? 0) == ids, "\(name) padded to \(length)")
            }
            #expect(scalars(tokenizer.decode(item.ids)) == scalars(item.decoded), "\(name) decode")
            #expect(scalars(tokenizer.decode(item.ids, skipSpecialTokens: false)) == scalars(item.decodedWithSpecial),
                    "\(name) decode with special tokens")
        }
        for item in record.decodeCases {
            #expect(scalars(tokenizer.decode(item.ids)) == scalars(item.decoded), "\(label): decode \(item.ids)")
            #expect(scalars(tokenizer.decode(item.ids, skipSpecialTokens: false)) == scalars(item.decodedWithSpecial),
                    "\(label): decode \(item.ids) with special tokens")
        }
        // Special ids are exactly the ones decode drops.
        let dropped = record.specialIds.filter { tokenizer.decode([$0]).isEmpty }
        #expect(dropped == record.specialIds, "\(label): special ids")
    }

    @Test func fixtureIsPresent() throws {
        let expected = try #require(Self.expected, "run Tests/Reference/make_tokenizer_fixture.py")
        #expect(Set(expected.configs.keys) == ["trainer", "none", "openai", "legacy", "extra"])
        #expect(expected.configs["trainer"]?.cases.count ?? 0 > 30)
    }

    @Test(arguments: ["trainer", "none", "openai", "legacy", "extra"])
    func matchesTransformers(config: String) throws {
        let record = try #require(Self.expected?.configs[config])
        let directory = try Self.directory(for: config)
        defer { if config != "trainer" { try? FileManager.default.removeItem(at: directory) } }
        Self.check(try CLIPTokenizer(directory: directory), against: record, label: config)
    }

    /// A vocabulary lacking most byte symbols (unknown token), with merges out
    /// of order and a duplicated pair.
    @Test func matchesTransformersOnHandWrittenVocabulary() throws {
        let record = try #require(Self.expected?.tiny)
        Self.check(try CLIPTokenizer(directory: Self.fixture.appendingPathComponent("tiny")), against: record, label: "tiny")
    }

    /// The other Hugging Face fixture (Tests/Reference/make_hf_fixture.py) has its own vocabulary and ids.
    @Test func matchesTheModelFixtureIds() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/hf-tiny-clip")
        struct ModelExpected: Decodable {
            var texts: [String]
            var inputIds: [[Int32]]
            var contextLength: Int
            enum CodingKeys: String, CodingKey { case texts, inputIds = "input_ids", contextLength = "context_length" }
        }
        let expected = try JSONDecoder().decode(ModelExpected.self, from: Data(contentsOf: directory.appendingPathComponent("expected.json")))
        let tokenizer = try CLIPTokenizer(directory: directory.appendingPathComponent("model"))
        #expect(tokenizer.encodeBatch(expected.texts, contextLength: expected.contextLength) == expected.inputIds)
    }
}
