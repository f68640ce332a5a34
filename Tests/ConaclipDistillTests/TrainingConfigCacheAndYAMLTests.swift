import Foundation
import Testing
@testable import ConaclipDistill

/// The config's `teacher_cache` section and the YAML the ablation runner
/// writes for each cell (`TrainingConfig.yamlText`).
@Suite struct TrainingConfigCacheAndYAMLTests {
    func parse(_ yaml: String) throws -> TrainingConfig {
        try TrainingConfig.parse(yaml: yaml, source: "test.yaml")
    }

    func refusal(_ yaml: String) -> String? {
        do {
            try parse(yaml).validate()
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func teacherCacheIsReadWithItsDefaults() throws {
        let full = try parse("""
            model: m.yaml
            teacher: runs/t/final
            teacher_cache: {path: runs/t.cache, on_stale: rebuild, verify_payload: false}
            loss: {terms: [intra-ts:fd:1]}
            """)
        #expect(full.teacherCache == TeacherCacheConfig(path: "runs/t.cache", onStale: .rebuild, verifyPayload: false))
        try full.validate()
        let short = try parse("model: m.yaml\nteacher: t\nteacher_cache: runs/t.cache\n")
        #expect(short.teacherCache == TeacherCacheConfig(path: "runs/t.cache", onStale: .refuse, verifyPayload: true))
        let mapping = try parse("model: m.yaml\nteacher: t\nteacher_cache: {path: c}\n")
        #expect(mapping.teacherCache?.policy == TeacherCachePolicy(onStale: .refuse, verifyPayload: true))
        #expect(try parse("model: m.yaml\nteacher: t\n").teacherCache == nil)
    }

    @Test func teacherCacheRefusalsNameTheKey() {
        #expect(refusal("model: m.yaml\nteacher: t\nteacher_cache: {path: c, on_stale: ignore}\n")?
            .contains("teacher_cache.on_stale: must be one of refuse, rebuild, got ignore") == true)
        #expect(refusal("model: m.yaml\nteacher: t\nteacher_cache: {on_stale: refuse}\n")?.contains("missing key teacher_cache.path") == true)
        #expect(refusal("model: m.yaml\nteacher: t\nteacher_cache: {path: c, verify: true}\n")?.contains("unknown key teacher_cache.verify") == true)
        #expect(refusal("model: m.yaml\nteacher_cache: c\n")?.contains("needs a teacher") == true)
        #expect(refusal("model: m.yaml\nteacher: {init: p.yaml}\nteacher_cache: c\n")?.contains("teacher.init") == true)
        #expect(refusal("model: m.yaml\nteacher: t\ndata: {synthetic: {pairs: 8}}\nteacher_cache: c\n")?
            .contains("data is synthetic") == true)
    }

    @Test func aCacheChangesTheRunDigestOnlyWhenSet() throws {
        let plain = try parse("model: m.yaml\nteacher: t\nloss: {terms: [intra-ts:fd:1]}\n")
        let cached = try parse("model: m.yaml\nteacher: t\nteacher_cache: c\nloss: {terms: [intra-ts:fd:1]}\n")
        #expect(!plain.canonicalText.contains("teacher_cache"))
        #expect(cached.canonicalText == plain.canonicalText + "teacher_cache=on\n")
        let moved = try parse("model: m.yaml\nteacher: t\nteacher_cache: {path: elsewhere, on_stale: rebuild}\nloss: {terms: [intra-ts:fd:1]}\n")
        #expect(moved.canonicalText == cached.canonicalText, "where the cache lives does not change the weights")
    }

    /// The YAML of `config`, parsed back, equals `config` (source aside).
    func roundTrip(_ config: TrainingConfig) throws -> TrainingConfig {
        var back = try TrainingConfig.parse(yaml: config.yamlText, source: config.source)
        back.source = config.source
        return back
    }

    @Test func yamlTextParsesBackToAnEqualConfig() throws {
        let directory = TrainingConfigTests.repositoryRoot.appendingPathComponent("configs")
        for name in ["conaclip.yaml", "motis.yaml", "no-distill.yaml", "smoke.yaml", "teacher-pretrain.yaml"] {
            let config = try TrainingConfig.load(path: directory.appendingPathComponent(name).path)
            #expect(try roundTrip(config) == config, "\(name)")
        }
        // Every kind of value, including the awkward ones.
        let odd = try parse("""
            model: "dir with \\"quotes\\"/and\\\\back: slash.yaml"
            teacher: "runs/t # not a comment"
            teacher_cache: {path: "c: d.cache", on_stale: rebuild, verify_payload: false}
            data: {manifest: "m.jsonl", split: all, on_bad_record: skip}
            tokenizer: {directory: "tok"}
            batch_size: 12
            micro_shards: 3
            epochs: 2
            seed: 18446744073
            optimizer: {lr: 1.0e-7, min_lr: 0, warmup_steps: 4, weight_decay: 0, beta1: 0.5, beta2: 0.999999, eps: 1.0e-12, max_grad_norm: .inf}
            loss:
              task_weight: 0.25
              kl_tau_squared: true
              terms: [inter-ts:sym-kl:0.1:2, intra-ss:kl:1.0e-3, intra-ts:fd:1:0]
            checkpoint: {every_steps: 0, keep_last: 9}
            log: {every_steps: 7}
            """)
        #expect(odd.optimizer.maxGradNorm == .infinity && odd.loss.terms.map(\.klTauSquared) == [true, true, false])
        #expect(try roundTrip(odd) == odd)
        let initTeacher = try parse("model: m.yaml\nteacher: {init: p.yaml, seed: 3, pretrain_steps: 2}\ndata: {synthetic: {pairs: 9, seed: 4}}\n")
        #expect(try roundTrip(initTeacher) == initTeacher)
        let bare = try parse("model: m.yaml\n")
        #expect(try roundTrip(bare) == bare)
        #expect(bare.yamlText.contains("terms: []"))
    }

    @Test func numbersAreWrittenAsYAMLFloats() {
        #expect(TrainingConfig.number(1e-6) == "1.0e-06")
        #expect(TrainingConfig.number(5e-4) == "0.0005")
        #expect(TrainingConfig.number(1) == "1.0")
        #expect(TrainingConfig.number(.infinity) == ".inf")
        #expect(TrainingConfig.quote("a\"b\\c\nd\u{1}") == "\"a\\\"b\\\\c\\nd\\u0001\"")
    }
}
