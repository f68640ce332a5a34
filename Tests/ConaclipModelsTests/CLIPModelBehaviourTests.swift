import Testing
@testable import ConaclipModels

/// Pooling, determinism, batch independence, input validation and the
/// parameter layout of `CLIPModel`.
@Suite struct CLIPModelBehaviourTests {
    static let eos = TinyCLIP.eos, bos = TinyCLIP.bos

    @Test func textPoolsAtTheFirstEndOfText() throws {
        let model = try TinyCLIP.model()
        // Identical up to and including the first end-of-text token, different
        // after it (including a second end-of-text): causal attention plus
        // pooling at the first one make the embeddings bit-identical.
        let a: [Int32] = [Self.bos, 4, 9, Self.eos, 1, 2, 3, 4]
        let b: [Int32] = [Self.bos, 4, 9, Self.eos, 7, Self.eos, 0, 0]
        // Changing a token before the end-of-text token must matter.
        let c: [Int32] = [Self.bos, 5, 9, Self.eos, 1, 2, 3, 4]
        let e = try model.encodeTexts([a, b, c])
        let p = model.config.projectionDim
        #expect(Array(e.scalars[0..<p]) == Array(e.scalars[p..<(2 * p)]))
        #expect(Array(e.scalars[0..<p]) != Array(e.scalars[(2 * p)..<(3 * p)]))

        func position(_ ids: [Int32]) -> Int {
            ids.withUnsafeBufferPointer { model.text.poolPosition(ids: $0) }
        }
        #expect(position(a) == 3)
        #expect(position(b) == 3)
        #expect(position([Self.bos, 1, 2, 3, 4, 5, 6, 7]) == 7, "no end-of-text: last position")
    }

    @Test func legacyEndOfTextIdTwoPoolsAtTheLargestId() throws {
        // Hugging Face configs converted from OpenAI carry eos_token_id = 2 and
        // pool at argmax(ids) (end-of-text is the largest id in CLIP's vocab).
        let model = try TinyCLIP.model(eosTokenId: 2)
        let ids: [Int32] = [Self.bos, 2, 5, Self.eos, 2, 0, 0, 0]
        #expect(ids.withUnsafeBufferPointer { model.text.poolPosition(ids: $0) } == 3)
        let tied: [Int32] = [1, 2, 19, 0, 19, 0, 0, 0]
        #expect(tied.withUnsafeBufferPointer { model.text.poolPosition(ids: $0) } == 2, "first maximum")
    }

    @Test func sameSeedGivesIdenticalBytes() throws {
        let first = try TinyCLIP.model(seed: 5), second = try TinyCLIP.model(seed: 5)
        let other = try TinyCLIP.model(seed: 6)
        #expect(first.parameters.values.array == second.parameters.values.array)
        #expect(first.parameters.values.array != other.parameters.values.array)

        // Forward and backward twice on the same model: identical bytes.
        let pixels = TinyCLIP.pixels(batch: 3)
        func run(_ model: CLIPModel) throws -> (images: [Float], texts: [Float], gradients: [Float]) {
            model.parameters.zeroGradients()
            let (images, texts) = try withEncoded(model, pixels: pixels, ids: TinyCLIP.captions)
            try images.withUnsafeBufferPointer { try model.vision.backward(dEmbeds: $0) }
            try texts.withUnsafeBufferPointer { try model.text.backward(dEmbeds: $0) }
            return (images, texts, model.parameters.gradients.array)
        }
        let r1 = try run(first), r2 = try run(first), r3 = try run(second)
        #expect(r1.images == r2.images && r1.texts == r2.texts && r1.gradients == r2.gradients)
        #expect(r1.images == r3.images && r1.texts == r3.texts && r1.gradients == r3.gradients)
        #expect(r1.gradients.contains { $0 != 0 })
    }

    @Test func inferenceMatchesTrainingForward() throws {
        let model = try TinyCLIP.model()
        let pixels = TinyCLIP.pixels(batch: 2)
        let training = try withEncoded(model, pixels: pixels, ids: TinyCLIP.captions, retain: true)
        let inference = try withEncoded(model, pixels: pixels, ids: TinyCLIP.captions, retain: false)
        #expect(training.images == inference.images)
        #expect(training.texts == inference.texts)
        // The inference pass discarded the activations backward would need.
        let grad = [Float](repeating: 1, count: 2 * model.config.projectionDim)
        #expect(throws: ModelError.noForwardPass(tower: "image tower")) {
            try grad.withUnsafeBufferPointer { try model.vision.backward(dEmbeds: $0) }
        }
    }

    @Test func sampleAloneEqualsSampleInBatch() throws {
        let model = try TinyCLIP.model()
        let p = model.config.projectionDim
        let values = model.vision.valuesPerImage
        let pixels = TinyCLIP.pixels(batch: 3)
        let batch = try model.encodeImages(Tensor(shape: [3, 3, 16, 16], scalars: pixels))
        for i in 0..<3 {
            let alone = try model.encodeImages(
                Tensor(shape: [1, 3, 16, 16], scalars: Array(pixels[(i * values)..<((i + 1) * values)])))
            #expect(maxAbsDifference(alone.scalars, Array(batch.scalars[(i * p)..<((i + 1) * p)])) <= 1e-5)
        }
        let texts = try model.encodeTexts(TinyCLIP.captions)
        for (i, caption) in TinyCLIP.captions.enumerated() {
            let alone = try model.encodeTexts([caption])
            #expect(maxAbsDifference(alone.scalars, Array(texts.scalars[(i * p)..<((i + 1) * p)])) <= 1e-5)
        }
        // A larger batch after a smaller one grows the workspace; a smaller one
        // after that reuses it. Both still agree.
        let again = try model.encodeImages(Tensor(shape: [3, 3, 16, 16], scalars: pixels))
        #expect(again == batch)
    }

    @Test func badInputThrows() throws {
        let model = try TinyCLIP.model()
        let p = model.config.projectionDim
        var row = TinyCLIP.captions[0]
        row[2] = 20  // == vocab size
        #expect(throws: ModelError.tokenOutOfRange(row: 1, position: 2, id: 20, vocabSize: 20)) {
            _ = try model.encodeTexts([TinyCLIP.captions[1], row])
        }
        row[2] = -1
        #expect(throws: ModelError.tokenOutOfRange(row: 0, position: 2, id: -1, vocabSize: 20)) {
            _ = try model.encodeTexts([row])
        }
        #expect(throws: ModelError.sizeMismatch(what: "token row 0", expected: 8, got: 7)) {
            _ = try model.encodeTexts([Array(TinyCLIP.captions[0].prefix(7))])
        }
        #expect(throws: ModelError.self) {
            _ = try model.encodeImages(Tensor(zeros: [2, 3, 16, 8]))
        }
        // Raw tower API: pixel count, output count, batch size.
        let pixels = TinyCLIP.pixels(batch: 2)
        var output = [Float](repeating: 0, count: 2 * p)
        #expect(throws: ModelError.self) {
            try pixels.withUnsafeBufferPointer { input in
                try output.withUnsafeMutableBufferPointer { out in
                    try model.vision.forward(pixels: input, batch: 3, output: out)
                }
            }
        }
        #expect(throws: ModelError.self) {
            try pixels.withUnsafeBufferPointer { input in
                try output.withUnsafeMutableBufferPointer { out in
                    try model.vision.forward(pixels: input, batch: 2, output: UnsafeMutableBufferPointer(rebasing: out[1...]))
                }
            }
        }
        #expect(throws: ModelError.invalidBatch(0)) {
            try pixels.withUnsafeBufferPointer { input in
                try output.withUnsafeMutableBufferPointer { out in
                    try model.vision.forward(pixels: UnsafeBufferPointer(rebasing: input[0..<0]), batch: 0, output: out)
                }
            }
        }
        // Backward before any forward, and with a gradient of the wrong size.
        let fresh = try TinyCLIP.model()
        #expect(throws: ModelError.noForwardPass(tower: "text tower")) {
            try output.withUnsafeBufferPointer { try fresh.text.backward(dEmbeds: $0) }
        }
        _ = try withEncoded(fresh, pixels: pixels, ids: TinyCLIP.captions)
        #expect(throws: ModelError.self) {
            try output.withUnsafeBufferPointer { try fresh.text.backward(dEmbeds: $0) }  // 2 rows for 3 captions
        }
        // A config the engine cannot run.
        var config = TinyCLIP.config()
        config.visionConfig.numAttentionHeads = 3
        #expect(throws: ModelError.self) { _ = try CLIPModel(config: config) }
        config = TinyCLIP.config()
        config.visionConfig.imageSize = 20
        #expect(throws: ModelError.self) { _ = try CLIPModel(config: config) }
    }

    @Test func parameterLayoutUsesHuggingFaceNamesAndFusedQKV() throws {
        let model = try TinyCLIP.model()
        let store = model.parameters
        let config = model.config
        // Exactly Hugging Face's CLIPModel state dict for this config.
        var expected: [String: [Int]] = [
            "text_model.embeddings.token_embedding.weight": [20, 16],
            "text_model.embeddings.position_embedding.weight": [8, 16],
            "text_model.final_layer_norm.weight": [16], "text_model.final_layer_norm.bias": [16],
            "vision_model.embeddings.class_embedding": [16],
            "vision_model.embeddings.patch_embedding.weight": [16, 3, 8, 8],
            "vision_model.embeddings.position_embedding.weight": [5, 16],
            "vision_model.pre_layrnorm.weight": [16], "vision_model.pre_layrnorm.bias": [16],
            "vision_model.post_layernorm.weight": [16], "vision_model.post_layernorm.bias": [16],
            "visual_projection.weight": [8, 16], "text_projection.weight": [8, 16], "logit_scale": [],
        ]
        for tower in ["text_model", "vision_model"] {
            for i in 0..<2 {
                let p = "\(tower).encoder.layers.\(i)"
                for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                    expected["\(p).self_attn.\(proj).weight"] = [16, 16]
                    expected["\(p).self_attn.\(proj).bias"] = [16]
                }
                for norm in ["layer_norm1", "layer_norm2"] {
                    expected["\(p).\(norm).weight"] = [16]
                    expected["\(p).\(norm).bias"] = [16]
                }
                expected["\(p).mlp.fc1.weight"] = [32, 16]; expected["\(p).mlp.fc1.bias"] = [32]
                expected["\(p).mlp.fc2.weight"] = [16, 32]; expected["\(p).mlp.fc2.bias"] = [16]
            }
        }
        #expect(store.specs.count == expected.count)
        for spec in store.specs { #expect(expected[spec.name] == spec.shape, "\(spec.name)") }
        // q, k, v weights back to back, then q, k, v biases back to back.
        for tower in ["text_model", "vision_model"] {
            let p = "\(tower).encoder.layers.1.self_attn"
            let q = try #require(store.spec(named: "\(p).q_proj.weight"))
            #expect(store.spec(named: "\(p).k_proj.weight")?.offset == q.offset + 256)
            #expect(store.spec(named: "\(p).v_proj.weight")?.offset == q.offset + 512)
            #expect(store.spec(named: "\(p).q_proj.bias")?.offset == q.offset + 768)
            #expect(store.spec(named: "\(p).k_proj.bias")?.offset == q.offset + 784)
            #expect(store.spec(named: "\(p).v_proj.bias")?.offset == q.offset + 800)
        }
        #expect(store.spec(named: "logit_scale")?.offset == model.logitScaleOffset)
        #expect(model.logitScale == config.logitScaleInitValue)
    }

    @Test func flopCountsFollowTheConfig() throws {
        let model = try TinyCLIP.model()
        // Image: patches 4 x (192 -> 16); 2 layers of 5 tokens, width 16, mlp 32; projection 16 -> 8.
        let layer = { (t: Int) in 2 * t * 16 * 48 + 4 * t * t * 16 + 2 * t * 16 * 16 + 4 * t * 16 * 32 }
        #expect(model.forwardFLOPsPerImage == 2 * 4 * 192 * 16 + 2 * layer(5) + 2 * 16 * 8)
        #expect(model.forwardFLOPsPerText == 2 * layer(8) + 2 * 16 * 8)
    }
}
