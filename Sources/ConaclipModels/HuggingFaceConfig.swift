import Foundation

/// Reading and writing `CLIPConfig` as a Hugging Face `config.json`, the
/// layout `transformers.CLIPConfig` saves, so checkpoints move between this
/// project and `CLIPModel.from_pretrained` in both directions.
extension CLIPConfig {
    /// Parses a Hugging Face CLIP `config.json`. Keys the model does not need
    /// are ignored; missing keys take transformers' defaults (those of
    /// `openai/clip-vit-base-patch32`); the legacy `text_config_dict` /
    /// `vision_config_dict` override their sections as transformers does.
    /// The result is validated. `source` names the file in errors.
    public init(huggingFaceJSON data: Data, source: String = "config.json") throws(ModelConfigError) {
        let root: StructuredValue
        switch StructuredValue.parseJSON(data) {
        case let .success(value): root = value
        case let .failure(error): throw .syntax(source: source, reason: error.reason)
        }
        self = try CLIPConfigReader(source: source, strict: false).config(from: root)
        try validate(source: source)
    }

    /// Reads and validates a Hugging Face CLIP `config.json` file.
    public init(huggingFaceConfigAt path: String) throws(ModelConfigError) {
        let bytes: FileBytes
        do { bytes = try FileBytes(path: path) } catch { throw .io(error) }
        try self.init(huggingFaceJSON: Data(bytes.bytes), source: path)
    }

    /// The configuration as `config.json` text in the layout of
    /// `transformers.CLIPConfig.to_json_string` (sorted keys, two-space
    /// indent), with `architectures: ["CLIPModel"]` and the weights' dtype.
    public func huggingFaceJSON(dtype: WeightDType = .float32) -> String {
        let t = textConfig, v = visionConfig
        let text: [String: StructuredValue] = [
            "attention_dropout": .double(0), "bos_token_id": .int(t.bosTokenId), "eos_token_id": .int(t.eosTokenId),
            "hidden_act": .string(t.hiddenAct.rawValue), "hidden_size": .int(t.hiddenSize),
            "initializer_factor": .double(1), "initializer_range": .double(0.02),
            "intermediate_size": .int(t.intermediateSize), "layer_norm_eps": Self.decimal(t.layerNormEps),
            "max_position_embeddings": .int(t.maxPositionEmbeddings), "model_type": .string("clip_text_model"),
            "num_attention_heads": .int(t.numAttentionHeads), "num_hidden_layers": .int(t.numHiddenLayers),
            "pad_token_id": .int(t.padTokenId), "projection_dim": .int(projectionDim), "vocab_size": .int(t.vocabSize),
        ]
        let vision: [String: StructuredValue] = [
            "attention_dropout": .double(0), "hidden_act": .string(v.hiddenAct.rawValue), "hidden_size": .int(v.hiddenSize),
            "image_size": .int(v.imageSize), "initializer_factor": .double(1), "initializer_range": .double(0.02),
            "intermediate_size": .int(v.intermediateSize), "layer_norm_eps": Self.decimal(v.layerNormEps),
            "model_type": .string("clip_vision_model"), "num_attention_heads": .int(v.numAttentionHeads),
            "num_channels": .int(v.numChannels), "num_hidden_layers": .int(v.numHiddenLayers),
            "patch_size": .int(v.patchSize), "projection_dim": .int(projectionDim),
        ]
        let root: [String: StructuredValue] = [
            "architectures": .array([.string("CLIPModel")]), "initializer_factor": .double(1),
            "logit_scale_init_value": Self.decimal(logitScaleInitValue), "model_type": .string("clip"),
            "projection_dim": .int(projectionDim), "text_config": .object(text),
            "torch_dtype": .string(dtype.torchName), "vision_config": .object(vision),
        ]
        var out = ""
        Self.emitJSON(.object(root), indent: 0, into: &out)
        return out + "\n"
    }

    /// A Float as the Double with the same shortest decimal spelling, so
    /// that 1e-05 is written as `1e-05`, not `9.999999747378752e-06`.
    static func decimal(_ value: Float) -> StructuredValue {
        .double(Double(value.description) ?? Double(value))
    }

    /// JSON with Python's `json.dumps(indent=2, sort_keys=True)` layout.
    static func emitJSON(_ value: StructuredValue, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent + 2)
        switch value {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .int(i): out += String(i)
        case let .double(d): out += d.isFinite ? d.description : "null"
        case let .string(s): out += SafeTensorsWriter.quoted(s)
        case let .array(items):
            if items.isEmpty { out += "[]"; return }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                emitJSON(item, indent: indent + 2, into: &out)
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        case let .object(fields):
            if fields.isEmpty { out += "{}"; return }
            out += "{\n"
            let keys = fields.keys.sorted(by: SafeTensorsWriter.nameOrder)
            for (i, key) in keys.enumerated() {
                out += pad + SafeTensorsWriter.quoted(key) + ": "
                emitJSON(fields[key] ?? .null, indent: indent + 2, into: &out)
                out += i + 1 < keys.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        }
    }
}

/// Turns a parsed `config.json` or YAML preset into a `CLIPConfig`, key by key.
///
/// Lenient mode (Hugging Face files): unknown keys are ignored and missing
/// keys take transformers' defaults. Strict mode (presets): the size keys are
/// required and unknown keys are refused with the nearest known key, so a
/// typo cannot silently fall back to a default.
struct CLIPConfigReader {
    let source: String
    let strict: Bool

    static let textDefaults: [String: StructuredValue] = [
        "vocab_size": .int(49408), "hidden_size": .int(512), "intermediate_size": .int(2048),
        "num_hidden_layers": .int(12), "num_attention_heads": .int(8), "max_position_embeddings": .int(77),
        "hidden_act": .string("quick_gelu"), "layer_norm_eps": .double(1e-5),
        "pad_token_id": .int(1), "bos_token_id": .int(49406), "eos_token_id": .int(49407),
    ]
    static let visionDefaults: [String: StructuredValue] = [
        "hidden_size": .int(768), "intermediate_size": .int(3072), "num_hidden_layers": .int(12),
        "num_attention_heads": .int(12), "num_channels": .int(3), "image_size": .int(224), "patch_size": .int(32),
        "hidden_act": .string("quick_gelu"), "layer_norm_eps": .double(1e-5),
    ]
    static let topDefaults: [String: StructuredValue] = [
        "projection_dim": .int(512), "logit_scale_init_value": .double(2.6592),
    ]
    /// Keys a strict file may omit (they keep the defaults above).
    static let optionalInStrictMode: Set<String> = [
        "hidden_act", "layer_norm_eps", "num_channels", "logit_scale_init_value",
    ]
    /// Informational keys transformers writes; accepted and ignored in strict mode too.
    static let ignoredTopKeys: Set<String> = [
        "architectures", "model_type", "initializer_factor", "torch_dtype", "dtype", "transformers_version",
    ]
    static let ignoredSectionKeys: Set<String> = [
        "model_type", "projection_dim", "initializer_range", "initializer_factor", "attention_dropout", "dropout",
    ]

    func config(from root: StructuredValue) throws(ModelConfigError) -> CLIPConfig {
        guard let top = root.object else {
            throw .wrongType(source: source, key: "the top level", expected: "a mapping", found: root.kind)
        }
        if let modelType = top["model_type"], modelType != .null {
            guard case let .string(name) = modelType, name == "clip" else {
                throw .invalidValue(source: source, key: "model_type",
                                    reason: "expected \"clip\" (a CLIPModel config with text_config and vision_config), found \(Self.render(modelType))")
            }
        }
        var allowedTop = Set(Self.topDefaults.keys).union(Self.ignoredTopKeys).union(["text_config", "vision_config"])
        if !strict { allowedTop.formUnion(["text_config_dict", "vision_config_dict"]) }
        try checkKeys(top, allowed: allowedTop, prefix: "")

        let textSection = try section(top, "text_config")
        let visionSection = try section(top, "vision_config")
        let text = try CLIPTextConfig(
            vocabSize: int(textSection, "vocab_size", "text_config"),
            hiddenSize: int(textSection, "hidden_size", "text_config"),
            intermediateSize: int(textSection, "intermediate_size", "text_config"),
            numHiddenLayers: int(textSection, "num_hidden_layers", "text_config"),
            numAttentionHeads: int(textSection, "num_attention_heads", "text_config"),
            maxPositionEmbeddings: int(textSection, "max_position_embeddings", "text_config"),
            hiddenAct: activation(textSection, "text_config"),
            layerNormEps: float(textSection, "layer_norm_eps", "text_config"),
            bosTokenId: int(textSection, "bos_token_id", "text_config"),
            eosTokenId: int(textSection, "eos_token_id", "text_config"),
            padTokenId: int(textSection, "pad_token_id", "text_config"))
        let vision = try CLIPVisionConfig(
            hiddenSize: int(visionSection, "hidden_size", "vision_config"),
            intermediateSize: int(visionSection, "intermediate_size", "vision_config"),
            numHiddenLayers: int(visionSection, "num_hidden_layers", "vision_config"),
            numAttentionHeads: int(visionSection, "num_attention_heads", "vision_config"),
            imageSize: int(visionSection, "image_size", "vision_config", squarePair: true),
            patchSize: int(visionSection, "patch_size", "vision_config", squarePair: true),
            numChannels: int(visionSection, "num_channels", "vision_config"),
            hiddenAct: activation(visionSection, "vision_config"),
            layerNormEps: float(visionSection, "layer_norm_eps", "vision_config"))
        let topSection = Section(values: top, defaults: Self.topDefaults)
        return try CLIPConfig(
            textConfig: text, visionConfig: vision,
            projectionDim: int(topSection, "projection_dim", ""),
            logitScaleInitValue: float(topSection, "logit_scale_init_value", ""))
    }

    /// A section's explicit values over its defaults.
    private struct Section {
        let values: [String: StructuredValue]
        let defaults: [String: StructuredValue]
    }

    private func section(_ top: [String: StructuredValue], _ name: String) throws(ModelConfigError) -> Section {
        let defaults = name == "text_config" ? Self.textDefaults : Self.visionDefaults
        var values: [String: StructuredValue] = [:]
        switch top[name] {
        case nil, .null?:
            if strict { throw .missingKey(source: source, key: name) }
        case let .object(fields)?:
            values = fields
        case let other?:
            throw .wrongType(source: source, key: name, expected: "a mapping", found: other.kind)
        }
        if !strict, let override = top[name + "_dict"], override != .null {
            // transformers rebuilds the section from the *_dict entries over its
            // defaults and lets every resulting key replace the section's own.
            guard let fields = override.object else {
                throw .wrongType(source: source, key: name + "_dict", expected: "a mapping", found: override.kind)
            }
            values = fields
        }
        try checkKeys(values, allowed: Set(defaults.keys).union(Self.ignoredSectionKeys), prefix: name + ".")
        return Section(values: values, defaults: defaults)
    }

    private func checkKeys(_ fields: [String: StructuredValue], allowed: Set<String>, prefix: String) throws(ModelConfigError) {
        guard strict else { return }
        for key in fields.keys.sorted() where !allowed.contains(key) {
            throw .unknownKey(source: source, key: prefix + key, suggestion: Self.nearest(key, in: allowed).map { prefix + $0 })
        }
    }

    private func value(_ section: Section, _ key: String, _ prefix: String) throws(ModelConfigError) -> (StructuredValue, String) {
        let path = prefix.isEmpty ? key : prefix + "." + key
        if let value = section.values[key], value != .null { return (value, path) }
        if strict && !Self.optionalInStrictMode.contains(key) { throw .missingKey(source: source, key: path) }
        return (section.defaults[key] ?? .null, path)
    }

    private func int(_ section: Section, _ key: String, _ prefix: String, squarePair: Bool = false) throws(ModelConfigError) -> Int {
        let (value, path) = try value(section, key, prefix)
        if let number = value.integer { return number }
        if squarePair, case let .array(items) = value, items.count == 2,
           let first = items[0].integer, let second = items[1].integer {
            guard first == second else {
                throw .invalidValue(source: source, key: path, reason: "[\(first), \(second)] is not square; only square images and patches are supported")
            }
            return first
        }
        if case .array = value, key == "eos_token_id" {
            throw .invalidValue(source: source, key: path, reason: "a list of end-of-text ids is not supported; give the single id the tokenizer appends")
        }
        throw .wrongType(source: source, key: path, expected: "an integer", found: Self.render(value))
    }

    private func float(_ section: Section, _ key: String, _ prefix: String) throws(ModelConfigError) -> Float {
        let (value, path) = try value(section, key, prefix)
        guard let number = value.number else {
            throw .wrongType(source: source, key: path, expected: "a number", found: Self.render(value))
        }
        return Float(number)
    }

    private func activation(_ section: Section, _ prefix: String) throws(ModelConfigError) -> Activation {
        let (value, path) = try value(section, "hidden_act", prefix)
        guard case let .string(name) = value else {
            throw .wrongType(source: source, key: path, expected: "an activation name", found: Self.render(value))
        }
        guard let activation = Activation(rawValue: name) else {
            let known = Activation.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
            throw .invalidValue(source: source, key: path, reason: "activation \"\(name)\" is not supported; use \(known)")
        }
        return activation
    }

    static func render(_ value: StructuredValue) -> String {
        switch value {
        case let .int(v): return String(v)
        case let .double(v): return String(v)
        case let .string(s): return "\"\(s)\" (a string)"
        case let .bool(b): return "\(b) (a boolean)"
        default: return value.kind
        }
    }

    /// The allowed key closest to `key` by edit distance, if close enough to be a typo.
    static func nearest(_ key: String, in allowed: Set<String>) -> String? {
        let candidates = allowed.map { ($0, editDistance(key, $0)) }
        guard let best = candidates.min(by: { ($0.1, $0.0) < ($1.1, $1.0) }) else { return nil }
        return best.1 <= max(2, key.count / 3) ? best.0 : nil
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
