import Foundation
import Testing
@testable import ConaclipModels

/// `BPETrainer`: CLIP's vocabulary layout, the greedy merge rule, determinism,
/// and the committed fixture vocabulary (which transformers' ids in
/// `Fixtures/tokenizer/expected.json` were computed with).
@Suite struct TokenizerTrainerTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizer")
    /// Settings the committed vocabulary was learned with.
    static let fixtureTrainer = BPETrainer(vocabularySize: 900, minimumPairFrequency: 2, contextLength: 77)

    static func corpus() throws -> [String] {
        let text = try String(contentsOf: fixture.appendingPathComponent("corpus.txt"), encoding: .utf8)
        return text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    /// The committed vocab.json / merges.txt / configs are exactly what the
    /// trainer learns from corpus.txt. With CONACLIP_UPDATE_TOKENIZER_FIXTURE=1
    /// the test rewrites them instead (step 2 of Tests/Reference/make_tokenizer_fixture.py).
    @Test func committedVocabularyIsWhatTheTrainerLearns() throws {
        let vocabulary = try Self.fixtureTrainer.train(try Self.corpus())
        #expect(vocabulary.tokens.count == 900)
        if ProcessInfo.processInfo.environment["CONACLIP_UPDATE_TOKENIZER_FIXTURE"] == "1" {
            try vocabulary.write(to: Self.fixture)
        }
        for file in vocabulary.files {
            let committed = try Data(contentsOf: Self.fixture.appendingPathComponent(file.name))
            #expect(committed == Data(file.contents.utf8), "\(file.name) differs from what BPETrainer learns")
        }
    }

    @Test func outputIsDeterministicAndIndependentOfCaptionOrder() throws {
        let corpus = try Self.corpus()
        let trainer = BPETrainer(vocabularySize: 700)
        let first = try trainer.train(corpus)
        let again = try trainer.train(corpus)
        var shuffled = corpus
        var generator = ShuffleGenerator(seed: 7)
        shuffled.shuffle(using: &generator)
        let reordered = try trainer.train(shuffled)
        #expect(first == again)
        #expect(first == reordered)
        #expect(first.files.map(\.contents) == reordered.files.map(\.contents))
    }

    @Test func vocabularyHasCLIPLayout() throws {
        let vocabulary = try BPETrainer(vocabularySize: 600).train(try Self.corpus())
        let tokens = vocabulary.tokens
        #expect(tokens.count == 600)
        #expect(tokens[0] == "!")
        #expect(tokens[187] == "ÿ")
        #expect(tokens[188] == "Ā")  // byte 0x00
        #expect(tokens[188 + 32] == "Ġ")  // byte 0x20, the space
        for i in 0..<256 { #expect(tokens[256 + i] == tokens[i] + "</w>") }
        #expect(tokens[598] == "<|startoftext|>")
        #expect(tokens[599] == "<|endoftext|>")
        #expect(vocabulary.merges.count >= 600 - BPETrainer.minimumVocabularySize)
        // Every merge yields a token of the vocabulary.
        let known = Set(tokens)
        for (left, right) in vocabulary.merges { #expect(known.contains(left + right)) }
    }

    /// Hand-counted: "ab" three times and "cd" once. With minimum frequency 2
    /// only (a, b</w>) merges; with 1, the tie between the two single-count
    /// pairs of ["ab cd"] goes to the smaller left id ('a' < 'c').
    @Test func mergesMostFrequentPairWithDeterministicTies() throws {
        let frequent = try BPETrainer(vocabularySize: 1000, minimumPairFrequency: 2).train(["ab ab AB cd"])
        #expect(frequent.merges.map { "\($0.0) \($0.1)" } == ["a b</w>"])
        #expect(frequent.tokens.count == 515)
        #expect(frequent.tokens[512] == "ab</w>")

        let tied = try BPETrainer(vocabularySize: 1000, minimumPairFrequency: 1).train(["cd ab"])
        #expect(tied.merges.map { "\($0.0) \($0.1)" } == ["a b</w>", "c d</w>"])

        // The three-symbol word: (a, b) and (b, c</w>) both count 2; (a, b) has the smaller left id.
        let chain = try BPETrainer(vocabularySize: 1000, minimumPairFrequency: 1).train(["abc abc"])
        #expect(chain.merges.map { "\($0.0) \($0.1)" } == ["a b", "ab c</w>"])
    }

    /// Special tokens in captions are cut out, not learned from.
    @Test func specialTokensAreNotLearned() throws {
        let vocabulary = try BPETrainer(vocabularySize: 1000, minimumPairFrequency: 2)
            .train(["<|endoftext|><|endoftext|><|endoftext|>", "<|startoftext|> <|startoftext|>"])
        #expect(vocabulary.merges.isEmpty)
    }

    @Test func trainedFilesLoadIntoTheSameTokenizer() throws {
        let corpus = try Self.corpus()
        let vocabulary = try BPETrainer(vocabularySize: 800).train(corpus)
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("conaclip-bpe-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try vocabulary.write(to: directory)
        let fromFiles = try CLIPTokenizer(directory: directory)
        let inMemory = try vocabulary.makeTokenizer()
        #expect(fromFiles.configuration == inMemory.configuration)
        #expect(fromFiles.vocabularySize == 800)
        #expect(fromFiles.bosTokenId == 798 && fromFiles.eosTokenId == 799 && fromFiles.padTokenId == 799)
        #expect(fromFiles.modelMaxLength == 77)
        for caption in corpus { #expect(fromFiles.encode(caption) == inMemory.encode(caption)) }
        // Learned merges are used: the corpus encodes shorter than bytes.
        let tokens = corpus.map { fromFiles.encodeWithoutSpecialTokens($0).count }.reduce(0, +)
        let bytes = corpus.map { $0.utf8.count }.reduce(0, +)
        #expect(tokens * 2 < bytes)
    }

    @Test func rejectsBadArguments() {
        #expect(throws: TokenizerError.self) { try BPETrainer(vocabularySize: 513).train(["a"]) }
        #expect(throws: TokenizerError.self) { try BPETrainer(vocabularySize: 600, minimumPairFrequency: 0).train(["a"]) }
        #expect(throws: TokenizerError.self) { try BPETrainer(vocabularySize: 600, contextLength: 1).train(["a"]) }
    }
}

/// A small seeded generator so shuffles are reproducible.
private struct ShuffleGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
