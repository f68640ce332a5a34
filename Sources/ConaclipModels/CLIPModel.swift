/// A CLIP dual encoder exactly as Hugging Face `transformers.CLIPModel`
/// computes it: an image tower and a causal text tower, each ending in a
/// bias-free projection to `projectionDim`, plus the `logit_scale` scalar.
///
/// All parameters of both towers live in ONE flat `ParameterStore` under
/// Hugging Face's state-dict names (`text_model.*`, `vision_model.*`,
/// `visual_projection.weight`, `text_projection.weight`, `logit_scale`), so
/// checkpoints, the optimiser and gradient reduction each work on one buffer.
/// The store starts zeroed: call `initialize(seed:)` or load a checkpoint.
///
/// Training: `vision.forward` / `text.forward` write raw (unnormalised)
/// embeddings into caller buffers; `vision.backward` / `text.backward` take
/// the embeddings' gradients and accumulate into `parameters.gradients`.
/// The towers never use `logit_scale`; the loss reads and differentiates it
/// (at `logitScaleOffset`). Everything runs on the calling thread and is
/// bit-identical run to run. Not safe for concurrent use.
public final class CLIPModel {
    public let config: CLIPConfig
    public let parameters: ParameterStore
    public let vision: VisionTransformer
    public let text: TextTransformer
    /// Offset of the `logit_scale` scalar in `parameters.values` / `.gradients`.
    public let logitScaleOffset: Int

    /// Builds the parameter layout for `config` (zero-filled values).
    public init(config: CLIPConfig) throws(ModelError) {
        try CLIPModel.validate(config)
        self.config = config
        var layout = ParameterLayout()
        var textOffsets: TextTransformer.Offsets
        var visionOffsets: VisionTransformer.Offsets
        let logitScale: Int
        do {
            // Hugging Face's registration order.
            textOffsets = try TextTransformer.register(config: config.textConfig, layout: &layout)
            visionOffsets = try VisionTransformer.register(config: config.visionConfig, layout: &layout)
            visionOffsets.projection = try layout.add("visual_projection.weight",
                                                      shape: [config.projectionDim, config.visionConfig.hiddenSize])
            textOffsets.projection = try layout.add("text_projection.weight",
                                                    shape: [config.projectionDim, config.textConfig.hiddenSize])
            logitScale = try layout.add("logit_scale", shape: [])
        } catch {
            throw .parameter(error)
        }
        parameters = ParameterStore(layout: layout)
        logitScaleOffset = logitScale
        vision = VisionTransformer(config: config.visionConfig, projectionDim: config.projectionDim,
                                   parameters: parameters, offsets: visionOffsets)
        text = TextTransformer(config: config.textConfig, projectionDim: config.projectionDim,
                               parameters: parameters, offsets: textOffsets)
    }

    /// Checks that `config` describes a model this engine can run.
    public static func validate(_ config: CLIPConfig) throws(ModelError) {
        let v = config.visionConfig, t = config.textConfig
        func positive(_ value: Int, _ name: String) throws(ModelError) {
            guard value > 0 else { throw .invalidConfig("\(name) must be positive, got \(value)") }
        }
        try positive(config.projectionDim, "projection_dim")
        try positive(v.hiddenSize, "vision_config.hidden_size")
        try positive(v.intermediateSize, "vision_config.intermediate_size")
        try positive(v.numAttentionHeads, "vision_config.num_attention_heads")
        try positive(v.imageSize, "vision_config.image_size")
        try positive(v.patchSize, "vision_config.patch_size")
        try positive(v.numChannels, "vision_config.num_channels")
        try positive(t.vocabSize, "text_config.vocab_size")
        try positive(t.hiddenSize, "text_config.hidden_size")
        try positive(t.intermediateSize, "text_config.intermediate_size")
        try positive(t.numAttentionHeads, "text_config.num_attention_heads")
        try positive(t.maxPositionEmbeddings, "text_config.max_position_embeddings")
        guard v.numHiddenLayers >= 0, t.numHiddenLayers >= 0 else {
            throw .invalidConfig("num_hidden_layers must not be negative")
        }
        guard v.hiddenSize % v.numAttentionHeads == 0 else {
            throw .invalidConfig("vision_config.hidden_size \(v.hiddenSize) is not a multiple of num_attention_heads \(v.numAttentionHeads)")
        }
        guard t.hiddenSize % t.numAttentionHeads == 0 else {
            throw .invalidConfig("text_config.hidden_size \(t.hiddenSize) is not a multiple of num_attention_heads \(t.numAttentionHeads)")
        }
        guard v.imageSize % v.patchSize == 0 else {
            throw .invalidConfig("vision_config.image_size \(v.imageSize) is not a multiple of patch_size \(v.patchSize)")
        }
        guard v.layerNormEps > 0, v.layerNormEps.isFinite, t.layerNormEps > 0, t.layerNormEps.isFinite else {
            throw .invalidConfig("layer_norm_eps must be positive and finite")
        }
        guard config.logitScaleInitValue.isFinite else {
            throw .invalidConfig("logit_scale_init_value must be finite")
        }
    }

    /// Overwrites every parameter with Hugging Face's initialisation, drawn
    /// deterministically from `seed` (see `ParameterInitialization`).
    public func initialize(seed: UInt64) {
        ParameterInitialization.initialize(parameters, config: config, seed: seed)
    }

    /// The current `logit_scale` value (log of the inverse temperature).
    public var logitScale: Float {
        get { parameters.values[logitScaleOffset] }
        set { parameters.values[logitScaleOffset] = newValue }
    }

    /// Matrix-product FLOPs (2 per multiply-add) of one image's forward pass.
    /// A backward pass costs about twice as much.
    public var forwardFLOPsPerImage: Int { vision.forwardFLOPsPerImage }

    /// Matrix-product FLOPs (2 per multiply-add) of one caption's forward pass.
    public var forwardFLOPsPerText: Int { text.forwardFLOPsPerText }

    /// Raw image embeddings `[batch, projectionDim]` for preprocessed images
    /// `[batch, channels, size, size]`. Inference only: discards any
    /// activations a training forward pass left for `vision.backward`.
    public func encodeImages(_ pixels: Tensor) throws(ModelError) -> Tensor {
        let v = config.visionConfig
        guard pixels.shape.count == 4, pixels.shape.dropFirst() == [v.numChannels, v.imageSize, v.imageSize] else {
            throw .shapeMismatch(what: "image batch", expected: [pixels.shape.first ?? 1, v.numChannels, v.imageSize, v.imageSize],
                                 got: pixels.shape)
        }
        let batch = pixels.shape[0]
        var output = Tensor(zeros: [batch, config.projectionDim])
        if batch == 0 { return output }
        let vision = self.vision
        try pixels.scalars.withUnsafeBufferPointer { (input) throws(ModelError) in
            try output.scalars.withUnsafeMutableBufferPointer { (out) throws(ModelError) in
                try vision.forward(pixels: input, batch: batch, output: out, retainActivations: false)
            }
        }
        return output
    }

    /// Raw text embeddings `[batch, projectionDim]` for rows of token ids,
    /// each exactly `maxPositionEmbeddings` long (padded, as the tokenizer
    /// emits them). Inference only: discards any activations a training
    /// forward pass left for `text.backward`.
    public func encodeTexts(_ ids: [[Int32]]) throws(ModelError) -> Tensor {
        let context = config.textConfig.maxPositionEmbeddings
        var flat: [Int32] = []
        flat.reserveCapacity(ids.count * context)
        for (row, tokens) in ids.enumerated() {
            guard tokens.count == context else {
                throw .sizeMismatch(what: "token row \(row)", expected: context, got: tokens.count)
            }
            flat.append(contentsOf: tokens)
        }
        var output = Tensor(zeros: [ids.count, config.projectionDim])
        if ids.isEmpty { return output }
        let text = self.text
        let batch = ids.count
        try flat.withUnsafeBufferPointer { (input) throws(ModelError) in
            try output.scalars.withUnsafeMutableBufferPointer { (out) throws(ModelError) in
                try text.forward(ids: input, batch: batch, output: out, retainActivations: false)
            }
        }
        return output
    }
}
