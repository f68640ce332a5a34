/// Seeded weight initialisation following Hugging Face
/// `CLIPPreTrainedModel._init_weights` with `initializer_factor = 1` and
/// `initializer_range = 0.02`.
///
/// Each tensor draws from its own `DeterministicRandom` stream, derived from
/// the seed and the tensor's name, so a tensor's initial values depend only
/// on (seed, name, shape): the same on every platform and independent of the
/// order parameters are registered in.
public enum ParameterInitialization {
    /// How one tensor is initialised.
    public enum Rule: Equatable, Sendable {
        case normal(std: Float)
        case constant(Float)
    }

    /// Hugging Face's `initializer_range` default, used for embeddings and
    /// the patch convolution.
    public static let initializerRange: Float = 0.02

    /// The rule Hugging Face applies to the parameter called `name`.
    public static func rule(for name: String, config: CLIPConfig) -> Rule {
        if name == "logit_scale" { return .constant(config.logitScaleInitValue) }
        let isVision = name.hasPrefix("vision_model.")
        let width = Float(isVision ? config.visionConfig.hiddenSize : config.textConfig.hiddenSize)
        let layers = Float(isVision ? config.visionConfig.numHiddenLayers : config.textConfig.numHiddenLayers)
        // Layer norms: weight 1, bias 0 (nn.LayerNorm defaults).
        if name.contains("norm") {
            return .constant(name.hasSuffix(".weight") ? 1 : 0)
        }
        if name.hasSuffix(".bias") { return .constant(0) }
        if name == "visual_projection.weight" {
            return .normal(std: 1 / Float(config.visionConfig.hiddenSize).squareRoot())
        }
        if name == "text_projection.weight" {
            return .normal(std: 1 / Float(config.textConfig.hiddenSize).squareRoot())
        }
        if name.hasSuffix("embeddings.class_embedding") {
            return .normal(std: 1 / width.squareRoot())
        }
        let depthScale = 1 / (2 * layers).squareRoot()
        if name.hasSuffix("q_proj.weight") || name.hasSuffix("k_proj.weight") || name.hasSuffix("v_proj.weight") {
            return .normal(std: depthScale / width.squareRoot())
        }
        if name.hasSuffix("out_proj.weight") { return .normal(std: 1 / width.squareRoot()) }
        if name.hasSuffix("mlp.fc1.weight") { return .normal(std: 1 / (2 * width).squareRoot()) }
        if name.hasSuffix("mlp.fc2.weight") { return .normal(std: depthScale / width.squareRoot()) }
        // token / position embeddings, the patch convolution, and any other
        // weight (nn.Linear's generic init in HF): N(0, initializer_range).
        return .normal(std: initializerRange)
    }

    /// Initialises every parameter of `store` from `seed`.
    public static func initialize(_ store: ParameterStore, config: CLIPConfig, seed: UInt64) {
        for spec in store.specs {
            let target = store.values.pointer + spec.offset
            switch rule(for: spec.name, config: config) {
            case let .constant(value):
                target.update(repeating: value, count: spec.count)
            case let .normal(std):
                var random = DeterministicRandom(seed: seed, stream: spec.name)
                random.fillNormal(target, count: spec.count, std: std)
            }
        }
    }
}
