import Foundation
import Testing
import ConaclipModels

/// The tiny random Hugging Face CLIP in `Fixtures/hf-tiny-clip`, and what
/// `transformers` computed from it (written by Tests/Reference/make_hf_fixture.py;
/// see Tests/Reference/README.md). Token ids must match exactly, everything
/// else to `tolerance` (1e-4) max abs.
struct HuggingFaceFixture {
    /// `expected.json`.
    struct Expected: Decodable {
        struct Image: Decodable {
            var file: String
            var mode: String
        }
        var contextLength: Int
        var bosTokenId: Int
        var eosTokenId: Int
        var padTokenId: Int
        var logitScale: Float
        var tolerance: Float
        var texts: [String]
        var inputIds: [[Int32]]
        var attentionMask: [[Int]]
        var images: [Image]

        enum CodingKeys: String, CodingKey {
            case contextLength = "context_length", bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
            case padTokenId = "pad_token_id", logitScale = "logit_scale", tolerance, texts
            case inputIds = "input_ids", attentionMask = "attention_mask", images
        }
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/hf-tiny-clip")
    static var modelDirectory: URL { directory.appendingPathComponent("model") }

    let expected: Expected
    /// `expected.safetensors`: pixel_values, image/text features and embeds, logits_per_image.
    let outputs: SafeTensorsFile

    init() throws {
        let json = try Data(contentsOf: Self.directory.appendingPathComponent("expected.json"))
        expected = try JSONDecoder().decode(Expected.self, from: json)
        outputs = try SafeTensorsFile(path: Self.directory.appendingPathComponent("expected.safetensors").path)
    }

    /// The fixture model, read with conaclip's own checkpoint reader.
    static func loadModel() throws -> CLIPModel {
        let checkpoint = CheckpointDirectory(path: modelDirectory.path)
        let model = try CLIPModel(config: try checkpoint.readConfig())
        try checkpoint.loadWeights(into: model.parameters)
        return model
    }

    /// Largest |a - b|, or infinity when the shapes differ or a value is not finite.
    static func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
        guard a.shape == b.shape else { return .infinity }
        var worst: Float = 0
        for (x, y) in zip(a.scalars, b.scalars) {
            let d = abs(x - y)
            guard d.isFinite else { return .infinity }
            worst = max(worst, d)
        }
        return worst
    }

    /// Each row divided by its L2 norm (what `CLIPModel.forward` does to the projected features).
    static func l2Normalized(_ t: Tensor) -> Tensor {
        var out = t
        let width = t.shape.last ?? 0
        guard width > 0 else { return out }
        for row in 0..<(t.count / width) {
            let range = row * width..<(row + 1) * width
            let norm = Float(t.scalars[range].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
            for i in range { out.scalars[i] = t.scalars[i] / norm }
        }
        return out
    }
}

@Suite struct HuggingFaceParityTests {
    @Test func configMatchesTransformers() throws {
        let fixture = try HuggingFaceFixture()
        let config = try CheckpointDirectory(path: HuggingFaceFixture.modelDirectory.path).readConfig()
        #expect(config.textConfig.maxPositionEmbeddings == fixture.expected.contextLength)
        #expect(config.textConfig.bosTokenId == fixture.expected.bosTokenId)
        #expect(config.textConfig.eosTokenId == fixture.expected.eosTokenId)
        #expect(config.textConfig.padTokenId == fixture.expected.padTokenId)
        #expect(config.textConfig.hiddenAct == .gelu)
        #expect(config.visionConfig.hiddenAct == .quickGELU)
        #expect(config.projectionDim == 24)
        #expect(config.visionConfig.sequenceLength == 17)
    }

    @Test func weightsLoadUnderHuggingFaceNames() throws {
        let fixture = try HuggingFaceFixture()
        let model = try HuggingFaceFixture.loadModel()
        // The script moved logit_scale off its init value (2.6592) so reading it is tested.
        #expect(model.logitScale == fixture.expected.logitScale)
    }

    @Test func imageEmbeddingsFromHuggingFacePixelValues() throws {
        let fixture = try HuggingFaceFixture()
        let model = try HuggingFaceFixture.loadModel()
        let pixels = try fixture.outputs.tensor(named: "pixel_values")
        #expect(pixels.shape == [fixture.expected.images.count, 3, 32, 32])
        let features = try model.encodeImages(pixels)
        let featureError = HuggingFaceFixture.maxAbsDifference(features, try fixture.outputs.tensor(named: "image_features"))
        let embedError = HuggingFaceFixture.maxAbsDifference(HuggingFaceFixture.l2Normalized(features),
                                                             try fixture.outputs.tensor(named: "image_embeds"))
        #expect(featureError <= fixture.expected.tolerance, "image_features max abs diff \(featureError)")
        #expect(embedError <= fixture.expected.tolerance, "image_embeds max abs diff \(embedError)")
    }

    @Test func textEmbeddingsFromHuggingFaceTokenIds() throws {
        let fixture = try HuggingFaceFixture()
        let model = try HuggingFaceFixture.loadModel()
        let features = try model.encodeTexts(fixture.expected.inputIds)
        let featureError = HuggingFaceFixture.maxAbsDifference(features, try fixture.outputs.tensor(named: "text_features"))
        let embedError = HuggingFaceFixture.maxAbsDifference(HuggingFaceFixture.l2Normalized(features),
                                                             try fixture.outputs.tensor(named: "text_embeds"))
        #expect(featureError <= fixture.expected.tolerance, "text_features max abs diff \(featureError)")
        #expect(embedError <= fixture.expected.tolerance, "text_embeds max abs diff \(embedError)")
    }

    @Test func tokenizerMatchesTransformers() throws {
        let fixture = try HuggingFaceFixture()
        let tokenizer = try CLIPTokenizer(directory: HuggingFaceFixture.modelDirectory)
        #expect(Int(tokenizer.bosTokenId) == fixture.expected.bosTokenId)
        #expect(Int(tokenizer.eosTokenId) == fixture.expected.eosTokenId)
        #expect(Int(tokenizer.padTokenId) == fixture.expected.padTokenId)
        let rows = tokenizer.encodeBatch(fixture.expected.texts, contextLength: fixture.expected.contextLength)
        #expect(rows.count == fixture.expected.texts.count)
        for (i, text) in fixture.expected.texts.enumerated() {
            let expected = fixture.expected.inputIds[i]
            #expect(i < rows.count && rows[i] == expected, "padded ids of \(String(reflecting: text))")
            // Texts that fit: the unpadded encoding is exactly the unmasked ids.
            let length = fixture.expected.attentionMask[i].reduce(0, +)
            if length < fixture.expected.contextLength {
                #expect(tokenizer.encode(text) == Array(expected.prefix(length)), "ids of \(String(reflecting: text))")
            }
        }
    }

    @Test func textEmbeddingsFromConaclipTokenizer() throws {
        let fixture = try HuggingFaceFixture()
        let model = try HuggingFaceFixture.loadModel()
        let tokenizer = try CLIPTokenizer(directory: HuggingFaceFixture.modelDirectory)
        let ids = tokenizer.encodeBatch(fixture.expected.texts, contextLength: model.config.textConfig.maxPositionEmbeddings)
        let embeds = HuggingFaceFixture.l2Normalized(try model.encodeTexts(ids))
        let error = HuggingFaceFixture.maxAbsDifference(embeds, try fixture.outputs.tensor(named: "text_embeds"))
        #expect(error <= fixture.expected.tolerance, "text_embeds max abs diff \(error)")
    }

    @Test func logitsPerImageMatchTransformers() throws {
        let fixture = try HuggingFaceFixture()
        let model = try HuggingFaceFixture.loadModel()
        let images = HuggingFaceFixture.l2Normalized(try model.encodeImages(try fixture.outputs.tensor(named: "pixel_values")))
        let texts = HuggingFaceFixture.l2Normalized(try model.encodeTexts(fixture.expected.inputIds))
        let width = model.config.projectionDim
        let nImages = images.shape[0], nTexts = texts.shape[0]
        var logits = Tensor(zeros: [nImages, nTexts])
        let scale = exp(model.logitScale)
        for i in 0..<nImages {
            for j in 0..<nTexts {
                var dot: Float = 0
                for k in 0..<width { dot += images.scalars[i * width + k] * texts.scalars[j * width + k] }
                logits.scalars[i * nTexts + j] = scale * dot
            }
        }
        // Logits are cosines times exp(logit_scale) (about 20), so the embedding
        // tolerance scales by the same factor.
        let error = HuggingFaceFixture.maxAbsDifference(logits, try fixture.outputs.tensor(named: "logits_per_image"))
        #expect(error <= fixture.expected.tolerance * scale, "logits_per_image max abs diff \(error)")
    }
}
