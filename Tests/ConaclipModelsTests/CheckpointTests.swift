import Foundation
import Testing
@testable import ConaclipModels

/// Fixtures written by Tests/Reference/make_clip_config_fixture.py.
private enum ConfigFixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}

/// The Hugging Face parameter names and shapes of a CLIPModel, listed from
/// transformers' modeling_clip.py, so checkpoint tests do not depend on the
/// model implementation.
private func huggingFaceLayout(_ config: CLIPConfig) throws -> ParameterLayout {
    var layout = ParameterLayout()
    func encoder(_ prefix: String, width: Int, mlp: Int, layers: Int) throws {
        for layer in 0..<layers {
            let p = "\(prefix).encoder.layers.\(layer)"
            for projection in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                try layout.add("\(p).self_attn.\(projection).weight", shape: [width, width])
                try layout.add("\(p).self_attn.\(projection).bias", shape: [width])
            }
            for norm in ["layer_norm1", "layer_norm2"] {
                try layout.add("\(p).\(norm).weight", shape: [width])
                try layout.add("\(p).\(norm).bias", shape: [width])
            }
            try layout.add("\(p).mlp.fc1.weight", shape: [mlp, width])
            try layout.add("\(p).mlp.fc1.bias", shape: [mlp])
            try layout.add("\(p).mlp.fc2.weight", shape: [width, mlp])
            try layout.add("\(p).mlp.fc2.bias", shape: [width])
        }
    }
    let t = config.textConfig, v = config.visionConfig
    try layout.add("text_model.embeddings.token_embedding.weight", shape: [t.vocabSize, t.hiddenSize])
    try layout.add("text_model.embeddings.position_embedding.weight", shape: [t.maxPositionEmbeddings, t.hiddenSize])
    try encoder("text_model", width: t.hiddenSize, mlp: t.intermediateSize, layers: t.numHiddenLayers)
    try layout.add("text_model.final_layer_norm.weight", shape: [t.hiddenSize])
    try layout.add("text_model.final_layer_norm.bias", shape: [t.hiddenSize])
    try layout.add("vision_model.embeddings.class_embedding", shape: [v.hiddenSize])
    try layout.add("vision_model.embeddings.patch_embedding.weight", shape: [v.hiddenSize, v.numChannels, v.patchSize, v.patchSize])
    try layout.add("vision_model.embeddings.position_embedding.weight", shape: [v.sequenceLength, v.hiddenSize])
    try layout.add("vision_model.pre_layrnorm.weight", shape: [v.hiddenSize])
    try layout.add("vision_model.pre_layrnorm.bias", shape: [v.hiddenSize])
    try encoder("vision_model", width: v.hiddenSize, mlp: v.intermediateSize, layers: v.numHiddenLayers)
    try layout.add("vision_model.post_layernorm.weight", shape: [v.hiddenSize])
    try layout.add("vision_model.post_layernorm.bias", shape: [v.hiddenSize])
    try layout.add("visual_projection.weight", shape: [config.projectionDim, v.hiddenSize])
    try layout.add("text_projection.weight", shape: [config.projectionDim, t.hiddenSize])
    try layout.add("logit_scale", shape: [])
    return layout
}

private func tinyConfig() -> CLIPConfig {
    CLIPConfig(
        textConfig: CLIPTextConfig(vocabSize: 50, hiddenSize: 8, intermediateSize: 16, numHiddenLayers: 1,
                                   numAttentionHeads: 2, maxPositionEmbeddings: 6, hiddenAct: .gelu,
                                   bosTokenId: 48, eosTokenId: 49, padTokenId: 49),
        visionConfig: CLIPVisionConfig(hiddenSize: 8, intermediateSize: 12, numHiddenLayers: 1, numAttentionHeads: 4,
                                       imageSize: 16, patchSize: 8, layerNormEps: 1e-6),
        projectionDim: 6, logitScaleInitValue: 2.6592)
}

private func filledStore(_ config: CLIPConfig, seed: Float) throws -> ParameterStore {
    let store = ParameterStore(layout: try huggingFaceLayout(config))
    for i in 0..<store.count { store.values[i] = cos(Float(i) * 0.37 + seed) }
    return store
}

@Suite struct HuggingFaceConfigTests {
    struct Resolved: Decodable, Equatable {
        struct Text: Decodable, Equatable {
            let vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads: Int
            let max_position_embeddings, bos_token_id, eos_token_id, pad_token_id: Int
            let hidden_act: String
            let layer_norm_eps: Float
        }
        struct Vision: Decodable, Equatable {
            let hidden_size, intermediate_size, num_hidden_layers, num_attention_heads: Int
            let image_size, patch_size, num_channels: Int
            let hidden_act: String
            let layer_norm_eps: Float
        }
        let projection_dim: Int
        let logit_scale_init_value: Float
        let text_config: Text
        let vision_config: Vision

        init(_ c: CLIPConfig) {
            let t = c.textConfig, v = c.visionConfig
            projection_dim = c.projectionDim
            logit_scale_init_value = c.logitScaleInitValue
            text_config = Text(vocab_size: t.vocabSize, hidden_size: t.hiddenSize, intermediate_size: t.intermediateSize,
                               num_hidden_layers: t.numHiddenLayers, num_attention_heads: t.numAttentionHeads,
                               max_position_embeddings: t.maxPositionEmbeddings, bos_token_id: t.bosTokenId,
                               eos_token_id: t.eosTokenId, pad_token_id: t.padTokenId, hidden_act: t.hiddenAct.rawValue,
                               layer_norm_eps: t.layerNormEps)
            vision_config = Vision(hidden_size: v.hiddenSize, intermediate_size: v.intermediateSize,
                                   num_hidden_layers: v.numHiddenLayers, num_attention_heads: v.numAttentionHeads,
                                   image_size: v.imageSize, patch_size: v.patchSize, num_channels: v.numChannels,
                                   hidden_act: v.hiddenAct.rawValue, layer_norm_eps: v.layerNormEps)
        }
    }

    /// Every fixture config resolves to exactly what transformers resolved
    /// (config/expected.json), including defaults and `*_config_dict` overrides.
    @Test(arguments: ["transformers-tiny-clip/config.json", "config/legacy-layout.config.json",
                      "config/dict-override.config.json", "config/defaults-only.config.json"])
    func readsConfigsAsTransformersDoes(name: String) throws {
        let expected = try JSONDecoder().decode([String: Resolved].self, from: Data(contentsOf: URL(fileURLWithPath: ConfigFixture.path("config/expected.json")))
            .filteringTopLevelKey("transformers_version"))
        let want = try #require(expected[name])
        let config = try CLIPConfig(huggingFaceConfigAt: ConfigFixture.path(name))
        #expect(Resolved(config) == want)
    }

    @Test func roundTripsThroughConfigJSON() throws {
        let config = tinyConfig()
        for dtype in WeightDType.allCases {
            let json = config.huggingFaceJSON(dtype: dtype)
            #expect(try CLIPConfig(huggingFaceJSON: Data(json.utf8)) == config)
            #expect(json.contains("\"torch_dtype\": \"\(dtype.torchName)\""))
        }
        #expect(config.huggingFaceJSON().contains("\"layer_norm_eps\": 1e-06"))
    }

    /// Our config.json for the transformers fixture's config has the same keys
    /// and values transformers wrote, apart from the version stamp, the dtype
    /// key (transformers 5 writes `dtype`, we write `torch_dtype`, which 4.x
    /// and 5.x both read) and the per-tower `projection_dim`, which we set to
    /// the model's (transformers leaves its unused default of 512).
    @Test func writesTheLayoutTransformersWrites() throws {
        let path = ConfigFixture.path("transformers-tiny-clip/config.json")
        let theirs = try parse(try Data(contentsOf: URL(fileURLWithPath: path)))
        let ours = try parse(Data(try CLIPConfig(huggingFaceConfigAt: path).huggingFaceJSON().utf8))
        func normalised(_ value: [String: StructuredValue]) -> [String: StructuredValue] {
            var value = value
            value["transformers_version"] = nil
            if let dtype = value.removeValue(forKey: "dtype") { value["torch_dtype"] = dtype }
            for section in ["text_config", "vision_config"] {
                if var fields = value[section]?.object {
                    fields["projection_dim"] = nil
                    value[section] = .object(fields)
                }
            }
            return value
        }
        #expect(normalised(ours) == normalised(theirs))
        #expect(theirs["dtype"] == .string("float32"))
    }

    private func parse(_ data: Data) throws -> [String: StructuredValue] {
        try #require(try StructuredValue.parseJSON(data).get().object)
    }

    @Test func refusesConfigsItCannotUse() {
        func error(_ json: String) -> ModelConfigError? {
            do { _ = try CLIPConfig(huggingFaceJSON: Data(json.utf8), source: "c.json"); return nil } catch { return error }
        }
        #expect(error(#"{"model_type": "siglip"}"#) == .invalidValue(
            source: "c.json", key: "model_type",
            reason: "expected \"clip\" (a CLIPModel config with text_config and vision_config), found \"siglip\" (a string)"))
        #expect(error(#"{"text_config": {"hidden_act": "gelu_new"}}"#) == .invalidValue(
            source: "c.json", key: "text_config.hidden_act",
            reason: "activation \"gelu_new\" is not supported; use \"gelu\" or \"quick_gelu\""))
        #expect(error(#"{"vision_config": {"hidden_size": "big"}}"#) == .wrongType(
            source: "c.json", key: "vision_config.hidden_size", expected: "an integer", found: "\"big\" (a string)"))
        #expect(error(#"{"text_config": {"eos_token_id": [2, 3]}}"#) == .invalidValue(
            source: "c.json", key: "text_config.eos_token_id",
            reason: "a list of end-of-text ids is not supported; give the single id the tokenizer appends"))
        #expect(error(#"{"vision_config": {"image_size": [224, 192]}}"#) == .invalidValue(
            source: "c.json", key: "vision_config.image_size", reason: "[224, 192] is not square; only square images and patches are supported"))
        #expect(error(#"{"text_config": 7}"#) == .wrongType(source: "c.json", key: "text_config", expected: "a mapping", found: "an integer"))
        guard case .syntax(source: "c.json", _)? = error("{\"projection_dim\": ") else {
            Issue.record("truncated JSON not reported as a syntax error")
            return
        }
        guard case let .invalid(source: "c.json", problems)? = error(#"{"vision_config": {"hidden_size": 100}}"#) else {
            Issue.record("indivisible width accepted")
            return
        }
        #expect(problems.count == 1 && problems[0].contains("vision_config.hidden_size (100) is not divisible by vision_config.num_attention_heads (12)"))
    }

    @Test func acceptsSquarePairsAndNullsAsTransformersDoes() throws {
        let json = #"{"projection_dim": 16, "text_config": {"pad_token_id": null, "vocab_size": 100, "bos_token_id": 98, "eos_token_id": 99}, "#
            + #""vision_config": {"image_size": [64, 64], "patch_size": [16, 16], "hidden_size": 32, "num_attention_heads": 4}}"#
        let config = try CLIPConfig(huggingFaceJSON: Data(json.utf8))
        #expect(config.visionConfig.imageSize == 64 && config.visionConfig.patchSize == 16)
        #expect(config.textConfig.padTokenId == 1)   // null takes transformers' default
    }
}

@Suite struct CheckpointDirectoryTests {
    /// The directory transformers wrote loads: its config and every tensor,
    /// under the Hugging Face names, bit for bit.
    @Test func loadsTheDirectoryTransformersWrote() throws {
        let checkpoint = CheckpointDirectory(path: ConfigFixture.path("transformers-tiny-clip"))
        let config = try checkpoint.readConfig()
        #expect(config.visionConfig.hiddenAct == .gelu && config.textConfig.eosTokenId == 63)
        let store = ParameterStore(layout: try huggingFaceLayout(config))
        try checkpoint.loadWeights(into: store)
        let file = try SafeTensorsFile(path: checkpoint.file("model.safetensors"))
        #expect(Set(file.names) == Set(store.specs.map(\.name)))
        for spec in store.specs {
            #expect(try store.tensor(named: spec.name) == file.tensor(named: spec.name))
        }
        #expect(try store.tensor(named: "logit_scale").scalars == [2.6592])
        #expect(checkpoint.tokenizerFiles.isEmpty)
    }

    @Test(arguments: [WeightDType.float32, .bfloat16])
    func writesAndReadsBack(dtype: WeightDType) throws {
        let parent = try CheckpointTestScratch.make("ckpt")
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let vocab = parent + "/vocab.json", merges = parent + "/merges.txt"
        try Data("{\"a</w>\": 0}".utf8).write(to: URL(fileURLWithPath: vocab))
        try Data("#version: 0.2\n".utf8).write(to: URL(fileURLWithPath: merges))
        let config = tinyConfig()
        let store = try filledStore(config, seed: 1)
        let target = parent + "/model"
        let written = try CheckpointDirectory.write(to: target, config: config, store: store, dtype: dtype,
                                                    copying: [vocab, merges], metadata: ["step": "12"])
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: target))
            == ["config.json", "model.safetensors", "vocab.json", "merges.txt"])
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: parent)) == ["model", "vocab.json", "merges.txt"])
        #expect(try written.readConfig() == config)
        #expect(written.tokenizerFiles == [target + "/vocab.json", target + "/merges.txt"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: target + "/vocab.json")) == Data(contentsOf: URL(fileURLWithPath: vocab)))
        let weights = try written.openWeights()
        #expect(weights.count == 1 && weights[0].metadata == ["format": "pt", "step": "12"])
        #expect(try weights[0].entry(named: "logit_scale").dtype == dtype.safeTensorsDType)
        let loaded = ParameterStore(layout: try huggingFaceLayout(config))
        try written.loadWeights(into: loaded)
        for i in 0..<store.count {
            let expected = dtype == .float32 ? store.values[i]
                : HalfPrecision.float(fromBFloat16: HalfPrecision.bfloat16Bits(from: store.values[i]))
            #expect(loaded.values[i] == expected)
        }
    }

    @Test func neverOverwritesUnlessAskedAndReplacesWhole() throws {
        let parent = try CheckpointTestScratch.make("ckpt")
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let config = tinyConfig()
        let target = parent + "/model"
        try CheckpointDirectory.write(to: target, config: config, store: try filledStore(config, seed: 1))
        let before = try Data(contentsOf: URL(fileURLWithPath: target + "/model.safetensors"))
        #expect(throws: CheckpointError.alreadyExists(target)) {
            try CheckpointDirectory.write(to: target, config: config, store: try filledStore(config, seed: 2))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: target + "/model.safetensors")) == before)
        // A stray file in the old directory disappears: the directory is replaced as a whole.
        try Data("x".utf8).write(to: URL(fileURLWithPath: target + "/stale.txt"))
        try CheckpointDirectory.write(to: target, config: config, store: try filledStore(config, seed: 2), replaceExisting: true)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: target)) == ["config.json", "model.safetensors"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: target + "/model.safetensors")) != before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent) == ["model"])
    }

    /// A write that fails part way leaves neither the final directory nor a staging directory behind.
    @Test func failedWritesLeaveNothingBehind() throws {
        let parent = try CheckpointTestScratch.make("ckpt")
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let config = tinyConfig()
        var layout = try huggingFaceLayout(config)
        try layout.add("__metadata__", shape: [1])   // the weights writer refuses this name after config.json is staged
        let target = parent + "/model"
        do {
            try CheckpointDirectory.write(to: target, config: config, store: ParameterStore(layout: layout))
            Issue.record("a store with a reserved tensor name was written")
        } catch {
            guard case .weights(.invalidTensorName(_, tensor: "__metadata__")) = error else { Issue.record("unexpected \(error)"); return }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent).isEmpty)

        var bad = config
        bad.visionConfig.patchSize = 5
        let store = try filledStore(config, seed: 0)
        do {
            try CheckpointDirectory.write(to: target, config: bad, store: store)
            Issue.record("invalid config written")
        } catch {
            guard case .config(.invalid) = error else { Issue.record("unexpected \(error)"); return }
        }
        #expect(throws: CheckpointError.duplicateFileName("config.json")) {
            try CheckpointDirectory.write(to: target, config: config, store: try filledStore(config, seed: 0),
                                          copying: [ConfigFixture.path("transformers-tiny-clip/config.json")])
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent).isEmpty)
    }

    @Test func explainsWhatIsMissing() throws {
        let parent = try CheckpointTestScratch.make("ckpt")
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let checkpoint = CheckpointDirectory(path: parent)
        #expect(throws: CheckpointError.missingFile(directory: parent, name: "config.json")) { _ = try checkpoint.readConfig() }
        #expect(throws: CheckpointError.missingFile(directory: parent, name: "model.safetensors")) { _ = try checkpoint.openWeights() }
        try Data([0x80, 0x02]).write(to: URL(fileURLWithPath: parent + "/pytorch_model.bin"))
        #expect(throws: CheckpointError.safetensorsRequired(directory: parent, found: "pytorch_model.bin")) {
            _ = try checkpoint.openWeights()
        }
        #expect(CheckpointError.safetensorsRequired(directory: parent, found: "pytorch_model.bin").description.contains("safe_serialization=True"))
        #expect(throws: CheckpointError.notADirectory(parent + "/nope")) {
            _ = try CheckpointDirectory(path: parent + "/nope").readConfig()
        }
    }

    @Test func loadsShardedCheckpointsAndRefusesEscapingShardNames() throws {
        let parent = try CheckpointTestScratch.make("ckpt")
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let config = tinyConfig()
        let store = try filledStore(config, seed: 3)
        let names = store.specs.map(\.name)
        var first = SafeTensorsWriter(metadata: ["format": "pt"]), second = SafeTensorsWriter(metadata: ["format": "pt"])
        var weightMap: [String: String] = [:]
        for (i, name) in names.enumerated() {
            let tensor = try store.tensor(named: name)
            if i % 2 == 0 { first.add(name, tensor); weightMap[name] = "model-00001-of-00002.safetensors" }
            else { second.add(name, tensor); weightMap[name] = "model-00002-of-00002.safetensors" }
        }
        try first.write(to: parent + "/model-00001-of-00002.safetensors")
        try second.write(to: parent + "/model-00002-of-00002.safetensors")
        func writeIndex(_ map: [String: String]) throws {
            let data = try JSONSerialization.data(withJSONObject: ["metadata": ["total_size": 0], "weight_map": map])
            try data.write(to: URL(fileURLWithPath: parent + "/model.safetensors.index.json"))
        }
        try writeIndex(weightMap)
        try Data(config.huggingFaceJSON().utf8).write(to: URL(fileURLWithPath: parent + "/config.json"))
        let checkpoint = CheckpointDirectory(path: parent)
        let loaded = ParameterStore(layout: try huggingFaceLayout(try checkpoint.readConfig()))
        try checkpoint.loadWeights(into: loaded)
        #expect(loaded.values.array == store.values.array)

        weightMap[names[0]] = "../outside.safetensors"
        try writeIndex(weightMap)
        #expect(throws: CheckpointError.invalidShardIndex(
            path: parent + "/model.safetensors.index.json",
            reason: "shard name \"../outside.safetensors\" for \(names[0]) must be a plain file name in the directory")) {
            try checkpoint.loadWeights(into: loaded)
        }
    }
}

private extension Data {
    /// The JSON object without one top-level key (expected.json's version stamp is not a config).
    func filteringTopLevelKey(_ key: String) throws -> Data {
        guard var object = try JSONSerialization.jsonObject(with: self) as? [String: Any] else { return self }
        object[key] = nil
        return try JSONSerialization.data(withJSONObject: object)
    }
}
