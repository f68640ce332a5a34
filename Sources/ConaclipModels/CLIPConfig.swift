/// Sizes of a CLIP image tower (Hugging Face `CLIPVisionConfig` field names).
public struct CLIPVisionConfig: Codable, Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var imageSize: Int
    public var patchSize: Int
    public var numChannels: Int
    public var hiddenAct: Activation
    public var layerNormEps: Float

    public init(hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
                imageSize: Int, patchSize: Int, numChannels: Int = 3,
                hiddenAct: Activation = .quickGELU, layerNormEps: Float = 1e-5) {
        self.hiddenSize = hiddenSize; self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers; self.numAttentionHeads = numAttentionHeads
        self.imageSize = imageSize; self.patchSize = patchSize; self.numChannels = numChannels
        self.hiddenAct = hiddenAct; self.layerNormEps = layerNormEps
    }

    /// Patches per side.
    public var gridSize: Int { imageSize / patchSize }
    /// Tokens per image: one class token plus one per patch.
    public var sequenceLength: Int { gridSize * gridSize + 1 }
    public var headDim: Int { hiddenSize / numAttentionHeads }

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case imageSize = "image_size", patchSize = "patch_size", numChannels = "num_channels"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
    }
}

/// Sizes of a CLIP text tower (Hugging Face `CLIPTextConfig` field names).
public struct CLIPTextConfig: Codable, Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    /// Context length: tokens per caption, including start and end tokens.
    public var maxPositionEmbeddings: Int
    public var hiddenAct: Activation
    public var layerNormEps: Float
    public var bosTokenId: Int
    public var eosTokenId: Int
    public var padTokenId: Int

    public init(vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
                numAttentionHeads: Int, maxPositionEmbeddings: Int,
                hiddenAct: Activation = .quickGELU, layerNormEps: Float = 1e-5,
                bosTokenId: Int, eosTokenId: Int, padTokenId: Int) {
        self.vocabSize = vocabSize; self.hiddenSize = hiddenSize; self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers; self.numAttentionHeads = numAttentionHeads
        self.maxPositionEmbeddings = maxPositionEmbeddings; self.hiddenAct = hiddenAct
        self.layerNormEps = layerNormEps; self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId; self.padTokenId = padTokenId
    }

    public var headDim: Int { hiddenSize / numAttentionHeads }

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case maxPositionEmbeddings = "max_position_embeddings", hiddenAct = "hidden_act"
        case layerNormEps = "layer_norm_eps", bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id", padTokenId = "pad_token_id"
    }
}

/// A whole CLIP dual encoder: both towers, the shared embedding width and
/// the initial logit scale (Hugging Face `CLIPConfig` field names).
public struct CLIPConfig: Codable, Sendable, Equatable {
    public var textConfig: CLIPTextConfig
    public var visionConfig: CLIPVisionConfig
    /// Width of the joint embedding space (both projections' output).
    public var projectionDim: Int
    /// Initial `logit_scale` (log of the inverse temperature); CLIP uses ln(1/0.07).
    public var logitScaleInitValue: Float

    public init(textConfig: CLIPTextConfig, visionConfig: CLIPVisionConfig,
                projectionDim: Int, logitScaleInitValue: Float = 2.6592) {
        self.textConfig = textConfig; self.visionConfig = visionConfig
        self.projectionDim = projectionDim; self.logitScaleInitValue = logitScaleInitValue
    }

    enum CodingKeys: String, CodingKey {
        case textConfig = "text_config", visionConfig = "vision_config"
        case projectionDim = "projection_dim", logitScaleInitValue = "logit_scale_init_value"
    }
}
