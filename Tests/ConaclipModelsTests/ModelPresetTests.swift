import Foundation
import Testing
@testable import ConaclipModels

private let presetDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("configs/models")

private func preset(_ name: String) throws -> CLIPConfig {
    try ModelPreset.load(path: presetDirectory.appendingPathComponent(name).path)
}

private func parseError(_ yaml: String) -> ModelConfigError? {
    do { _ = try ModelPreset.parse(yaml: yaml, source: "p.yaml"); return nil } catch { return error }
}

/// A complete valid preset to break one key at a time.
private let validYAML = """
projection_dim: 16
vision_config:
  image_size: 32
  patch_size: 8
  hidden_size: 32
  intermediate_size: 64
  num_hidden_layers: 2
  num_attention_heads: 4
text_config:
  vocab_size: 100
  max_position_embeddings: 16
  hidden_size: 32
  intermediate_size: 64
  num_hidden_layers: 2
  num_attention_heads: 4
  bos_token_id: 98
  eos_token_id: 99
  pad_token_id: 99
"""

@Suite struct ModelPresetTests {
    @Test func teacherAndStudentPresetsHaveTheBriefedSizes() throws {
        let teacher = try preset("teacher-64.yaml"), student = try preset("student-64.yaml")
        let tv = teacher.visionConfig, tt = teacher.textConfig
        #expect([tv.imageSize, tv.patchSize, tv.hiddenSize, tv.numHiddenLayers, tv.numAttentionHeads, tv.intermediateSize]
            == [64, 8, 256, 6, 8, 1024] as [Int])
        #expect([tt.hiddenSize, tt.numHiddenLayers, tt.numAttentionHeads, tt.maxPositionEmbeddings, tt.vocabSize]
            == [256, 6, 8, 32, 4096] as [Int])
        let sv = student.visionConfig, st = student.textConfig
        #expect([sv.imageSize, sv.patchSize, sv.hiddenSize, sv.numHiddenLayers, sv.numAttentionHeads, sv.intermediateSize]
            == [64, 8, 128, 4, 4, 512] as [Int])
        #expect([st.hiddenSize, st.numHiddenLayers, st.numAttentionHeads, st.maxPositionEmbeddings] == [128, 4, 4, 32] as [Int])
        #expect(teacher.projectionDim == 256 && student.projectionDim == teacher.projectionDim)
        #expect(st.vocabSize == tt.vocabSize && st.eosTokenId == tt.eosTokenId)
        for config in [teacher, student] {
            #expect(config.visionConfig.hiddenAct == .quickGELU && config.textConfig.hiddenAct == .quickGELU)
            #expect(config.visionConfig.layerNormEps == 1e-5)
        }
    }

    @Test func tinyPresetsPairUp() throws {
        let student = try preset("tiny.yaml"), teacher = try preset("tiny-teacher.yaml")
        #expect(student.visionConfig.hiddenSize == 32 && teacher.visionConfig.hiddenSize == 48)
        #expect(student.textConfig.hiddenSize == 32 && teacher.textConfig.hiddenSize == 48)
        for config in [student, teacher] {
            #expect(config.visionConfig.imageSize == 32 && config.visionConfig.patchSize == 8)
            #expect(config.visionConfig.numHiddenLayers == 2 && config.textConfig.numHiddenLayers == 2)
            #expect(config.textConfig.maxPositionEmbeddings == 16 && config.textConfig.vocabSize == 300)
        }
        #expect(student.projectionDim == teacher.projectionDim)
    }

    @Test func everyPresetFileLoadsAndStartsWithAComment() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: presetDirectory.path).filter { $0.hasSuffix(".yaml") }
        #expect(Set(names).isSuperset(of: ["teacher-64.yaml", "student-64.yaml", "tiny.yaml", "tiny-teacher.yaml"]))
        for name in names {
            let text = try String(contentsOf: presetDirectory.appendingPathComponent(name), encoding: .utf8)
            #expect(text.hasPrefix("# "), "\(name) needs a comment header saying what it is for")
            let config = try preset(name)
            #expect(config.problems.isEmpty)
            // A preset is also a valid Hugging Face config once written as config.json.
            #expect(try CLIPConfig(huggingFaceJSON: Data(config.huggingFaceJSON().utf8)) == config)
        }
    }

    @Test func writtenPresetsReadBack() throws {
        let config = try ModelPreset.parse(yaml: validYAML)
        let text = ModelPreset.yaml(for: config, header: "a test preset\n\nsecond paragraph")
        #expect(text.hasPrefix("# a test preset\n#\n# second paragraph\n"))
        #expect(try ModelPreset.parse(yaml: text) == config)
        #expect(config.visionConfig.numChannels == 3 && config.logitScaleInitValue == 2.6592)  // optional keys
    }

    @Test func badYAMLNamesTheFileAndKey() {
        guard case let .syntax(source, reason)? = parseError("projection_dim: 16\nvision_config: [unclosed\n") else {
            Issue.record("bad YAML accepted"); return
        }
        #expect(source == "p.yaml" && !reason.isEmpty)
        #expect(parseError(validYAML.replacingOccurrences(of: "  num_hidden_layers: 2\n  num_attention_heads: 4\ntext",
                                                          with: "  num_hiden_layers: 2\n  num_attention_heads: 4\ntext"))
            == .unknownKey(source: "p.yaml:7", key: "vision_config.num_hiden_layers", suggestion: "vision_config.num_hidden_layers"))
        #expect(parseError(validYAML.replacingOccurrences(of: "  vocab_size: 100\n", with: ""))
            == .missingKey(source: "p.yaml", key: "text_config.vocab_size"))
        #expect(parseError(validYAML.replacingOccurrences(of: "patch_size: 8", with: "patch_size: eight"))
            == .wrongType(source: "p.yaml:4", key: "vision_config.patch_size", expected: "an integer", found: "\"eight\" (a string)"))
        #expect(parseError(validYAML.replacingOccurrences(of: "projection_dim: 16", with: "projection_dim: 16\nprojection_dim: 8"))
            .map { if case .syntax = $0 { true } else { false } } == true)
        #expect(parseError("") == .syntax(source: "p.yaml", reason: "the file is empty"))
        #expect(parseError("- 1\n- 2\n") == .wrongType(source: "p.yaml", key: "the top level", expected: "a mapping", found: "a list"))
        #expect(parseError(validYAML.replacingOccurrences(of: "text_config:", with: "text_config:\n  hidden_act: relu"))
            == .invalidValue(source: "p.yaml:10", key: "text_config.hidden_act",
                             reason: "activation \"relu\" is not supported; use \"gelu\" or \"quick_gelu\""))
        #expect(throws: ModelConfigError.self) { _ = try ModelPreset.load(path: "/nonexistent/preset.yaml") }
    }

    @Test func validationSaysWhatToFix() {
        guard case let .invalid(source, problems)? = parseError(validYAML
            .replacingOccurrences(of: "  hidden_size: 32\n  intermediate_size: 64\n  num_hidden_layers: 2\n  num_attention_heads: 4\ntext",
                                  with: "  hidden_size: 30\n  intermediate_size: 64\n  num_hidden_layers: 2\n  num_attention_heads: 4\ntext")
            .replacingOccurrences(of: "image_size: 32", with: "image_size: 36")
            .replacingOccurrences(of: "  num_hidden_layers: 2\n  num_attention_heads: 4\n  bos", with: "  num_hidden_layers: 0\n  num_attention_heads: 4\n  bos")
            .replacingOccurrences(of: "eos_token_id: 99", with: "eos_token_id: 100"))
        else { Issue.record("invalid preset accepted"); return }
        #expect(source == "p.yaml")
        #expect(problems.count == 4, "\(problems)")
        #expect(problems.contains { $0.contains("vision_config.hidden_size (30) is not divisible by vision_config.num_attention_heads (4)") && $0.contains("28 or 32") })
        #expect(problems.contains { $0.contains("vision_config.image_size (36) is not divisible by vision_config.patch_size (8)") && $0.contains("40") })
        #expect(problems.contains { $0 == "text_config.num_hidden_layers is 0; it must be at least 1" })
        #expect(problems.contains { $0.hasPrefix("text_config.eos_token_id (100) is outside the vocabulary 0..<100") })
    }

    @Test func sizesThatCannotBeRealAreRefused() {
        var config = try? ModelPreset.parse(yaml: validYAML)
        config?.textConfig.vocabSize = 1 << 40
        config?.visionConfig.patchSize = 0
        let problems = config?.problems ?? []
        #expect(problems.contains { $0.hasPrefix("text_config.vocab_size is 1099511627776") })
        #expect(problems.contains { $0 == "vision_config.patch_size is 0; it must be at least 1" })
    }
}
