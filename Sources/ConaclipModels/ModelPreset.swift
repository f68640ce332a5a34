import Foundation
import Yams

/// Model size presets stored as YAML (configs/models/*.yaml) with the same
/// snake_case keys as a Hugging Face `config.json`:
///
/// ```yaml
/// projection_dim: 256
/// vision_config: {hidden_size: 128, intermediate_size: 512, num_hidden_layers: 4,
///                 num_attention_heads: 4, image_size: 64, patch_size: 8}
/// text_config: {vocab_size: 4096, hidden_size: 128, ...}
/// ```
///
/// Presets are read strictly: every size key is required, unknown keys are
/// refused with the nearest known key (a typo must not silently become a
/// default), and the result is validated. `hidden_act`, `layer_norm_eps`,
/// `num_channels` and `logit_scale_init_value` may be left out.
public enum ModelPreset {
    /// Reads and validates the preset at `path`.
    public static func load(path: String) throws(ModelConfigError) -> CLIPConfig {
        let bytes: FileBytes
        do { bytes = try FileBytes(path: path) } catch { throw .io(error) }
        guard let text = String(bytes: bytes.bytes, encoding: .utf8) else {
            throw .syntax(source: path, reason: "the file is not UTF-8 text")
        }
        return try parse(yaml: text, source: path)
    }

    /// Parses and validates preset text; `source` names it in errors.
    public static func parse(yaml: String, source: String = "preset") throws(ModelConfigError) -> CLIPConfig {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            throw .syntax(source: source, reason: Self.describe(error))
        }
        guard let node else { throw .syntax(source: source, reason: "the file is empty") }
        var lines: [String: Int] = [:]
        let root = try value(of: node, path: "", lines: &lines, source: source)
        let config: CLIPConfig
        do {
            config = try CLIPConfigReader(source: source, strict: true).config(from: root)
        } catch {
            throw locate(error, lines: lines)
        }
        try config.validate(source: source)
        return config
    }

    /// The preset text for `config`, after `header` (each line becomes a
    /// `#` comment). `parse` reads it back to the same configuration.
    public static func yaml(for config: CLIPConfig, header: String = "") -> String {
        let t = config.textConfig, v = config.visionConfig
        var out = header.isEmpty ? "" : header.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.isEmpty ? "#" : "# \($0)" }.joined(separator: "\n") + "\n"
        out += """
        projection_dim: \(config.projectionDim)
        logit_scale_init_value: \(config.logitScaleInitValue)
        vision_config:
          image_size: \(v.imageSize)
          patch_size: \(v.patchSize)
          num_channels: \(v.numChannels)
          hidden_size: \(v.hiddenSize)
          intermediate_size: \(v.intermediateSize)
          num_hidden_layers: \(v.numHiddenLayers)
          num_attention_heads: \(v.numAttentionHeads)
          hidden_act: \(v.hiddenAct.rawValue)
          layer_norm_eps: \(v.layerNormEps)
        text_config:
          vocab_size: \(t.vocabSize)
          max_position_embeddings: \(t.maxPositionEmbeddings)
          hidden_size: \(t.hiddenSize)
          intermediate_size: \(t.intermediateSize)
          num_hidden_layers: \(t.numHiddenLayers)
          num_attention_heads: \(t.numAttentionHeads)
          hidden_act: \(t.hiddenAct.rawValue)
          layer_norm_eps: \(t.layerNormEps)
          bos_token_id: \(t.bosTokenId)
          eos_token_id: \(t.eosTokenId)
          pad_token_id: \(t.padTokenId)

        """
        return out
    }

    // MARK: - YAML to plain values

    private static func value(
        of node: Node, path: String, lines: inout [String: Int], source: String
    ) throws(ModelConfigError) -> StructuredValue {
        switch node {
        case let .scalar(scalar):
            switch Resolver.default.resolveTag(of: node) {
            case .null: return .null
            case .bool: return Bool.construct(from: scalar).map(StructuredValue.bool) ?? .string(scalar.string)
            case .int: return Int.construct(from: scalar).map(StructuredValue.int) ?? .string(scalar.string)
            case .float: return Double.construct(from: scalar).map(StructuredValue.double) ?? .string(scalar.string)
            default: return .string(scalar.string)
            }
        case let .sequence(sequence):
            var items: [StructuredValue] = []
            for (index, item) in sequence.enumerated() {
                items.append(try value(of: item, path: "\(path)[\(index)]", lines: &lines, source: source))
            }
            return .array(items)
        case let .mapping(mapping):
            var fields: [String: StructuredValue] = [:]
            for (keyNode, item) in mapping {
                guard case let .scalar(key) = keyNode else {
                    throw .syntax(source: Self.at(source, keyNode.mark), reason: "mapping keys must be plain names")
                }
                let keyPath = path.isEmpty ? key.string : path + "." + key.string
                if let line = key.mark?.line { lines[keyPath] = line }
                fields[key.string] = try value(of: item, path: keyPath, lines: &lines, source: source)
            }
            return .object(fields)
        case let .alias(alias):
            throw .syntax(source: Self.at(source, alias.mark), reason: "YAML aliases are not supported in model presets")
        }
    }

    private static func at(_ source: String, _ mark: Mark?) -> String {
        mark.map { "\(source):\($0.line)" } ?? source
    }

    /// Adds the line of the offending key to the error's source.
    private static func locate(_ error: ModelConfigError, lines: [String: Int]) -> ModelConfigError {
        func with(_ source: String, _ key: String) -> String {
            lines[key].map { "\(source):\($0)" } ?? source
        }
        switch error {
        case let .wrongType(source, key, expected, found):
            return .wrongType(source: with(source, key), key: key, expected: expected, found: found)
        case let .invalidValue(source, key, reason):
            return .invalidValue(source: with(source, key), key: key, reason: reason)
        case let .unknownKey(source, key, suggestion):
            return .unknownKey(source: with(source, key), key: key, suggestion: suggestion)
        default:
            return error
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let yamlError = error as? YamlError {
            return yamlError.description.split(separator: "\n").first.map(String.init) ?? "\(yamlError)"
        }
        return "\(error)"
    }
}
