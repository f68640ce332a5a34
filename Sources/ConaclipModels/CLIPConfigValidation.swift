/// Checks that a configuration describes a CLIP the engine can build, with
/// one message per problem that says what to change.
extension CLIPConfig {
    /// Every problem with the configuration (empty when it is valid). Keys
    /// are spelt as in `config.json` / the YAML presets.
    public var problems: [String] {
        var problems: [String] = []
        func positive(_ value: Int, _ key: String, limit: Int = Self.sizeLimit) {
            if value <= 0 {
                problems.append("\(key) is \(value); it must be at least 1")
            } else if value > limit {
                problems.append("\(key) is \(value); sizes above \(limit) are refused as corrupt")
            }
        }
        func divisible(width: Int, heads: Int, prefix: String) {
            guard width > 0, heads > 0, width % heads != 0 else { return }
            let below = width / heads * heads
            let above = below + heads
            let headOptions = Self.divisors(of: width).filter { $0 > 1 && $0 <= 64 }.map(String.init).joined(separator: ", ")
            problems.append("\(prefix).hidden_size (\(width)) is not divisible by \(prefix).num_attention_heads (\(heads)): "
                + "use a hidden_size that is a multiple of \(heads)"
                + (below > 0 ? " such as \(below) or \(above)" : " such as \(above)")
                + (headOptions.isEmpty ? "" : ", or a head count that divides \(width) (\(headOptions))"))
        }
        func epsilon(_ value: Float, _ key: String) {
            if !(value.isFinite && value > 0) { problems.append("\(key) is \(value); it must be a small positive number such as 1e-05") }
        }

        let v = visionConfig
        positive(v.hiddenSize, "vision_config.hidden_size")
        positive(v.intermediateSize, "vision_config.intermediate_size")
        positive(v.numHiddenLayers, "vision_config.num_hidden_layers")
        positive(v.numAttentionHeads, "vision_config.num_attention_heads")
        positive(v.imageSize, "vision_config.image_size")
        positive(v.patchSize, "vision_config.patch_size")
        positive(v.numChannels, "vision_config.num_channels")
        divisible(width: v.hiddenSize, heads: v.numAttentionHeads, prefix: "vision_config")
        if v.imageSize > 0, v.patchSize > 0 {
            if v.patchSize > v.imageSize {
                problems.append("vision_config.patch_size (\(v.patchSize)) is larger than vision_config.image_size (\(v.imageSize)): use a patch size that divides the image size")
            } else if v.imageSize % v.patchSize != 0 {
                let sizes = Self.divisors(of: v.imageSize).filter { $0 > 1 && $0 < v.imageSize }.map(String.init).joined(separator: ", ")
                problems.append("vision_config.image_size (\(v.imageSize)) is not divisible by vision_config.patch_size (\(v.patchSize)): "
                    + "use an image size that is a multiple of \(v.patchSize) such as \(v.imageSize / v.patchSize * v.patchSize + v.patchSize)"
                    + (sizes.isEmpty ? "" : ", or a patch size that divides \(v.imageSize) (\(sizes))"))
            }
        }
        epsilon(v.layerNormEps, "vision_config.layer_norm_eps")

        let t = textConfig
        positive(t.vocabSize, "text_config.vocab_size")
        positive(t.hiddenSize, "text_config.hidden_size")
        positive(t.intermediateSize, "text_config.intermediate_size")
        positive(t.numHiddenLayers, "text_config.num_hidden_layers")
        positive(t.numAttentionHeads, "text_config.num_attention_heads")
        divisible(width: t.hiddenSize, heads: t.numAttentionHeads, prefix: "text_config")
        if t.maxPositionEmbeddings < 2 {
            problems.append("text_config.max_position_embeddings is \(t.maxPositionEmbeddings); the context must hold at least the start and end tokens (2)")
        }
        if t.vocabSize > 0 {
            for (key, id) in [("bos_token_id", t.bosTokenId), ("eos_token_id", t.eosTokenId), ("pad_token_id", t.padTokenId)]
            where id < 0 || id >= t.vocabSize {
                problems.append("text_config.\(key) (\(id)) is outside the vocabulary 0..<\(t.vocabSize): use an id below vocab_size (the tokenizer's special tokens are usually the last ids)")
            }
        }
        epsilon(t.layerNormEps, "text_config.layer_norm_eps")

        positive(projectionDim, "projection_dim")
        if !logitScaleInitValue.isFinite {
            problems.append("logit_scale_init_value is \(logitScaleInitValue); it must be finite (CLIP uses 2.6592 = ln(1/0.07))")
        }
        return problems
    }

    /// Throws `.invalid` listing every problem; `source` names the file in the message.
    public func validate(source: String = "model configuration") throws(ModelConfigError) {
        let problems = self.problems
        if !problems.isEmpty { throw .invalid(source: source, problems: problems) }
    }

    /// Largest accepted size of any dimension: far above any CLIP, low
    /// enough that parameter counts cannot overflow.
    static let sizeLimit = 1 << 20

    static func divisors(of n: Int) -> [Int] {
        guard n > 0, n <= sizeLimit else { return [] }
        return (1...n).filter { n % $0 == 0 }
    }
}
