import Foundation
import Testing
@testable import ConaclipModels

/// The seeded generator and Hugging Face's initialisation rules.
@Suite struct CLIPModelInitializationTests {
    @Test func splitMix64MatchesTheReferenceSequence() {
        // Vigna's splitmix64.c seeded with 0; values printed by a Python
        // transcription of it (and 0xe220a8397b1dcdaf is the widely quoted
        // first output).
        var random = DeterministicRandom(seed: 0)
        #expect(random.next() == 0xe220_a839_7b1d_cdaf)
        #expect(random.next() == 0x6e78_9e6a_a1b9_65f4)
        #expect(random.next() == 0x06c4_5d18_8009_454f)
    }

    @Test func boxMullerMatchesLibmWithinRounding() {
        // Python (math.log/cos/sin) on the same uniforms, seed 42:
        // u1 = ((a >> 11) + 1) 2^-53, u2 = (b >> 11) 2^-53,
        // r = sqrt(-2 ln u1) -> r cos(2 pi u2), r sin(2 pi u2).
        let reference = [0.4147197504315305, 0.6526812221519427, -0.8918862136277562,
                         1.3268335628141064, 1.7295930879374015, -1.883416788902816]
        var random = DeterministicRandom(seed: 42)
        for value in reference {
            #expect(abs(random.nextNormal() - value) <= 1e-14)
        }
    }

    @Test func portableElementaryFunctionsAreAccurate() {
        var random = DeterministicRandom(seed: 9)
        var worstLog = 0.0, worstTrig = 0.0
        for _ in 0..<2000 {
            let u = Double((random.next() >> 11) + 1) * 0x1p-53
            for x in [u, u * 1e3] {
                let error = abs(DeterministicRandom.naturalLog(x) - Foundation.log(x))
                worstLog = max(worstLog, error / max(1, abs(Foundation.log(x))))
            }
            let t = u == 1 ? 0 : u
            let (s, c) = DeterministicRandom.sinCos(turns: t)
            let angle = 2 * Double.pi * t
            worstTrig = max(worstTrig, abs(s - Foundation.sin(angle)), abs(c - Foundation.cos(angle)))
        }
        #expect(worstLog < 1e-15)
        #expect(worstTrig < 1e-15)
    }

    @Test func normalSamplesHaveUnitMoments() {
        var random = DeterministicRandom(seed: 1)
        let n = 200_000
        var sum = 0.0, squares = 0.0
        for _ in 0..<n {
            let z = random.nextNormal()
            sum += z; squares += z * z
        }
        let mean = sum / Double(n), variance = squares / Double(n) - mean * mean
        // Standard errors: 1/sqrt(n) = 0.0022 for the mean, sqrt(2/n) = 0.0032 for the variance.
        #expect(abs(mean) < 0.011)
        #expect(abs(variance - 1) < 0.016)
    }

    @Test func boundedIndicesAreInRangeAndUniform() {
        var random = DeterministicRandom(seed: 5)
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<7000 { counts[random.nextIndex(below: 7)] += 1 }
        // 1000 expected per bucket, standard deviation about 30.
        #expect(counts.allSatisfy { abs($0 - 1000) < 150 }, "\(counts)")
        #expect(random.nextIndex(below: 1) == 0)
    }

    @Test func streamsDependOnNameNotOrder() {
        var a = DeterministicRandom(seed: 3, stream: "text_projection.weight")
        var b = DeterministicRandom(seed: 3, stream: "text_projection.weight")
        var c = DeterministicRandom(seed: 3, stream: "visual_projection.weight")
        var d = DeterministicRandom(seed: 4, stream: "text_projection.weight")
        let first = a.next()
        #expect(first == b.next())
        #expect(first != c.next())
        #expect(first != d.next())
    }

    @Test func initialisationFollowsHuggingFaceRules() throws {
        // A wider model so the sample standard deviations are meaningful.
        let config = CLIPConfig(
            textConfig: CLIPTextConfig(vocabSize: 300, hiddenSize: 64, intermediateSize: 256, numHiddenLayers: 2,
                                       numAttentionHeads: 4, maxPositionEmbeddings: 16,
                                       bosTokenId: 298, eosTokenId: 299, padTokenId: 299),
            visionConfig: CLIPVisionConfig(hiddenSize: 32, intermediateSize: 128, numHiddenLayers: 3,
                                           numAttentionHeads: 4, imageSize: 32, patchSize: 8),
            projectionDim: 24, logitScaleInitValue: 2.6592)
        let model = try CLIPModel(config: config)
        model.initialize(seed: 123)
        let store = model.parameters
        func std(_ name: String) throws -> Double {
            let values = try store.tensor(named: name).scalars.map(Double.init)
            let mean = values.reduce(0, +) / Double(values.count)
            return (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
        }
        func expectStd(_ name: String, _ expected: Double) throws {
            let n = Double(try #require(store.spec(named: name)).count)
            let measured = try std(name)
            // Sample std has relative standard error 1/sqrt(2n); allow 5 of them.
            #expect(abs(measured / expected - 1) < 5 / (2 * n).squareRoot(), "\(name): \(measured) vs \(expected)")
        }
        // From CLIPPreTrainedModel._init_weights, factor 1, initializer_range 0.02.
        try expectStd("text_model.embeddings.token_embedding.weight", 0.02)
        try expectStd("text_model.embeddings.position_embedding.weight", 0.02)
        try expectStd("vision_model.embeddings.patch_embedding.weight", 0.02)
        try expectStd("vision_model.embeddings.position_embedding.weight", 0.02)
        try expectStd("vision_model.embeddings.class_embedding", 1 / 32.0.squareRoot())
        try expectStd("text_model.encoder.layers.1.self_attn.q_proj.weight", 1 / 64.0.squareRoot() / 4.0.squareRoot())
        try expectStd("vision_model.encoder.layers.0.self_attn.v_proj.weight", 1 / 32.0.squareRoot() / 6.0.squareRoot())
        try expectStd("vision_model.encoder.layers.2.self_attn.out_proj.weight", 1 / 32.0.squareRoot())
        try expectStd("text_model.encoder.layers.0.mlp.fc1.weight", 1 / 128.0.squareRoot())
        try expectStd("vision_model.encoder.layers.1.mlp.fc2.weight", 1 / 32.0.squareRoot() / 6.0.squareRoot())
        try expectStd("visual_projection.weight", 1 / 32.0.squareRoot())
        try expectStd("text_projection.weight", 1 / 64.0.squareRoot())
        for spec in store.specs {
            let values = try store.tensor(named: spec.name).scalars
            if spec.name.contains("norm") {
                #expect(values.allSatisfy { $0 == (spec.name.hasSuffix(".weight") ? 1 : 0) }, "\(spec.name)")
            } else if spec.name.hasSuffix(".bias") {
                #expect(values.allSatisfy { $0 == 0 }, "\(spec.name)")
            }
        }
        #expect(model.logitScale == 2.6592)
        // q, k and v come from separate streams: not copies of each other.
        let q = try store.tensor(named: "text_model.encoder.layers.0.self_attn.q_proj.weight")
        let k = try store.tensor(named: "text_model.encoder.layers.0.self_attn.k_proj.weight")
        #expect(q.scalars != k.scalars)
    }
}
