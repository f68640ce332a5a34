import Foundation
import Testing
import Yams
@testable import ConaclipDistill

/// Parsing and refusing training configs (configs/*.yaml).
@Suite struct TrainingConfigTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func parse(_ yaml: String) throws -> TrainingConfig {
        try TrainingConfig.parse(yaml: yaml, source: "test.yaml")
    }

    /// The error message of parsing `yaml`, or nil when it parses.
    func refusal(_ yaml: String) -> String? {
        do {
            let config = try parse(yaml)
            try config.validate()
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func readsEveryKey() throws {
        let config = try parse("""
        model: configs/models/tiny.yaml
        teacher: {init: configs/models/tiny-teacher.yaml, seed: 4, pretrain_steps: 7}
        data: {synthetic: {pairs: 64, seed: 2}}
        tokenizer: {learn: {vocab_size: 600}}
        batch_size: 32
        micro_shards: 4
        steps: 12
        seed: 9
        optimizer: {lr: 1.0e-3, min_lr: 1.0e-5, warmup_steps: 3, weight_decay: 0.2, beta1: 0.8, beta2: 0.95, eps: 1.0e-8, max_grad_norm: 2}
        loss:
          task_weight: 0.5
          terms: [intra-ts:infonce:0.07, "inter-ts:sym-kl:0.1:2"]
          kl_tau_squared: true
        checkpoint: {every_steps: 5, keep_last: 2}
        log: {every_steps: 3}
        """)
        #expect(config.model == "configs/models/tiny.yaml")
        #expect(config.teacher == .initialized(preset: "configs/models/tiny-teacher.yaml", seed: 4, pretrainSteps: 7))
        #expect(config.data == .synthetic(pairs: 64, seed: 2))
        #expect(config.effectiveTokenizer == .learn(vocabularySize: 600))
        #expect(config.batchSize == 32 && config.microShards == 4 && config.microShardSize == 8)
        #expect(config.duration == .steps(12))
        #expect(config.seed == 9)
        #expect(config.optimizer.lr == 1e-3 && config.optimizer.minLR == 1e-5 && config.optimizer.warmupSteps == 3)
        #expect(config.optimizer.weightDecay == 0.2 && config.optimizer.beta1 == 0.8 && config.optimizer.beta2 == 0.95)
        #expect(config.optimizer.eps == 1e-8 && config.optimizer.maxGradNorm == 2)
        #expect(config.loss.taskWeight == 0.5)
        #expect(config.loss.terms.map(\.spec) == ["intra-ts:infonce:0.07", "inter-ts:sym-kl:0.1:2.0"])
        // kl_tau_squared reaches the KL-family terms only.
        #expect(config.loss.terms.map(\.klTauSquared) == [false, true])
        #expect(config.checkpoint.everySteps == 5 && config.checkpoint.keepLast == 2)
        #expect(config.log.everySteps == 3)
        try config.validate()
    }

    @Test func appliesTheDocumentedDefaults() throws {
        let config = try parse("model: m.yaml\nteacher: runs/teacher/final\n")
        #expect(config.teacher == .directory("runs/teacher/final"))
        #expect(config.data == .manifest(path: "data/emoji/manifest.jsonl", split: "train", onBadRecord: .stop))
        // The teacher directory's tokenizer by default.
        #expect(config.effectiveTokenizer == .directory("runs/teacher/final"))
        #expect(config.batchSize == 128 && config.microShards == 1 && config.duration == .epochs(1) && config.seed == 0)
        #expect(config.optimizer == TrainingConfig.Optimizer())
        #expect(config.optimizer.lr == 5e-4 && config.optimizer.beta2 == 0.98 && config.optimizer.maxGradNorm == 1)
        #expect(config.loss.taskWeight == 1 && config.loss.terms.isEmpty && !config.loss.klTauSquared)
        #expect(config.checkpoint.everySteps == 500 && config.checkpoint.keepLast == 3 && config.log.everySteps == 10)
        // Without a teacher directory, a vocabulary is learnt.
        #expect(try parse("model: m.yaml\n").effectiveTokenizer == .learn(vocabularySize: 4096))
        #expect(try parse("model: m.yaml\ndata: {split: all}\n").data
            == .manifest(path: "data/emoji/manifest.jsonl", split: nil, onBadRecord: .stop))
    }

    @Test func refusesAnUnknownKeyNamingItAndTheFile() {
        let top = refusal("model: m.yaml\nbatch_sise: 4\n")
        #expect(top?.contains("test.yaml:2") == true, "\(top ?? "accepted")")
        #expect(top?.contains("unknown key batch_sise (did you mean batch_size?)") == true, "\(top ?? "accepted")")
        let nested = refusal("model: m.yaml\noptimizer:\n  lr: 1.0e-3\n  lrr: 2\n")
        #expect(nested?.contains("test.yaml:4: unknown key optimizer.lrr (did you mean optimizer.lr?)") == true,
                "\(nested ?? "accepted")")
        let deep = refusal("model: m.yaml\ndata: {synthetic: {pairs: 3, colour: red}}\n")
        #expect(deep?.contains("data.synthetic.colour") == true, "\(deep ?? "accepted")")
    }

    @Test func refusesMicroShardsThatDoNotDivideTheBatch() {
        let message = refusal("model: m.yaml\nbatch_size: 100\nmicro_shards: 3\n")
        #expect(message?.contains("micro_shards") == true && message?.contains("not divisible") == true, "\(message ?? "accepted")")
        #expect(refusal("model: m.yaml\nbatch_size: 96\nmicro_shards: 3\n") == nil)
    }

    @Test func refusesUndefinedLossPairsNamingTheEntry() {
        let message = refusal("model: m.yaml\nteacher: t\nloss:\n  terms:\n    - intra-ts:fd:1\n    - intra-ss:infonce:0.1\n")
        #expect(message?.contains("test.yaml:6") == true, "\(message ?? "accepted")")
        #expect(message?.contains("loss.terms[1]") == true, "\(message ?? "accepted")")
        #expect(message?.contains("intra-ss:infonce is undefined") == true, "\(message ?? "accepted")")
        #expect(refusal("model: m.yaml\nteacher: t\nloss: {terms: [inter-ss:sym-kl:0.1]}\n")?.contains("undefined") == true)
        #expect(refusal("model: m.yaml\nteacher: t\nloss: {terms: [inter-ss:kl]}\n")?.contains("TYPE:STRATEGY:TAU") == true)
    }

    /// The term parser the training config and the ablation grid share.
    @Test func lossTermSetsKLTauSquaredOnTheKLFamilyOnlyAndSaysWhereABadSpecStands() throws {
        let kl = try TrainingConfig.lossTerm("inter-ts:kl:0.5:2", source: "g.yaml:3", key: "cells[0]", klTauSquared: true)
        #expect(kl.type == .interTS && kl.strategy == .kl && kl.tau == 0.5 && kl.weight == 2 && kl.klTauSquared)
        let plainKL = try TrainingConfig.lossTerm("inter-ts:kl:0.5", source: "g.yaml:3", key: "cells[0]", klTauSquared: false)
        #expect(!plainKL.klTauSquared && plainKL.weight == 1)
        let infonce = try TrainingConfig.lossTerm("intra-ts:infonce:0.07", source: "g.yaml:4", key: "cells[1]", klTauSquared: true)
        #expect(infonce.strategy == .infonce && !infonce.klTauSquared)
        do {
            _ = try TrainingConfig.lossTerm("intra-ss:infonce:0.1", source: "g.yaml:5", key: "combinations[0][1]",
                                            klTauSquared: false)
            Issue.record("an undefined pair was accepted")
        } catch {
            let message = "\(error)"
            #expect(message.hasPrefix("g.yaml:5: combinations[0][1]: ") && message.contains("intra-ss:infonce is undefined"),
                    "\(message)")
        }
    }

    @Test func refusesOtherInconsistencies() {
        // Two lengths at once.
        #expect(refusal("model: m.yaml\nsteps: 3\nepochs: 1\n")?.contains("steps and epochs cannot both be set") == true)
        // Terms without a teacher.
        #expect(refusal("model: m.yaml\nloss: {terms: [intra-ts:fd:1]}\n")?.contains("need a teacher") == true)
        // Wrong kinds of values.
        #expect(refusal("model: m.yaml\nbatch_size: many\n")?.contains("batch_size must be an integer") == true)
        #expect(refusal("model: m.yaml\nsteps: 0\n")?.contains("steps") == true)
        #expect(refusal("model: m.yaml\noptimizer: {beta2: 1.5}\n")?.contains("beta2") == true)
        #expect(refusal("model: m.yaml\noptimizer: {lr: 1.0e-4, min_lr: 1.0e-3}\n")?.contains("min_lr") == true)
        #expect(refusal("model: m.yaml\ntokenizer: {learn: {vocab_size: 100}}\n")?.contains("at least 514") == true)
        #expect(refusal("model: m.yaml\ndata: {on_bad_record: ignore}\n")?.contains("stop, skip") == true)
        #expect(refusal("model: m.yaml\nloss: {task_weight: 0}\n")?.contains("nothing would be trained") == true)
        #expect(refusal("batch_size: 4\n")?.contains("missing key model") == true)
        #expect(refusal("model: [a, b]\n")?.contains("model must be a string") == true)
    }

    @Test func readsTheClusterSectionAndRefusesBadValues() throws {
        #expect(try parse("model: m.yaml\n").cluster == TrainingConfig.Cluster())
        #expect(TrainingConfig.Cluster().tasksInFlight == 2)
        let cluster = try parse("""
        model: m.yaml
        cluster: {heartbeat_interval: 0.5, dead_after: 4, straggler_factor: 2, straggler_min_seconds: 1, min_workers: 2,
                  max_bad_results: 5, tasks_in_flight: 1, faults: ["worker-exit@step=3"]}
        """).cluster
        #expect(cluster.heartbeatInterval == 0.5 && cluster.deadAfter == 4 && cluster.stragglerFactor == 2)
        #expect(cluster.stragglerMinSeconds == 1 && cluster.minWorkers == 2 && cluster.maxBadResults == 5)
        #expect(cluster.tasksInFlight == 1 && cluster.faults.map(\.spec) == ["worker-exit@step=3"])
        #expect(refusal("model: m.yaml\ncluster: {tasks_in_flight: 0}\n").map { $0.contains("cluster.tasks_in_flight") && $0.contains("between 1 and 16") } == true)
        #expect(refusal("model: m.yaml\ncluster: {dead_after: 1, heartbeat_interval: 1}\n")?.contains("dead_after") == true)
    }

    @Test func theKubernetesConfigMapCarriesTheSmokeConfig() throws {
        let manifest = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("Deploy/kubernetes/configmap.yaml"), encoding: .utf8)
        let object = try #require(try Yams.load(yaml: manifest) as? [String: Any])
        let embedded = try #require((object["data"] as? [String: Any])?["train.yaml"] as? String)
        let smoke = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("configs/smoke.yaml"), encoding: .utf8)
        #expect(try parse(embedded).yamlText == parse(smoke).yamlText,
                "Deploy/kubernetes/configmap.yaml's train.yaml no longer says what configs/smoke.yaml says")
    }

    @Test func totalStepsFromEpochsDropsThePartialBatch() throws {
        let config = try parse("model: m.yaml\nbatch_size: 32\nepochs: 3\n")
        #expect(try config.totalSteps(trainingPairs: 100) == 9)
        #expect(throws: TrainingConfigError.self) { _ = try config.totalSteps(trainingPairs: 31) }
        #expect(try parse("model: m.yaml\nsteps: 7\n").totalSteps(trainingPairs: 1) == 7)
    }

    @Test func theDigestTextIgnoresCheckpointAndLogSettings() throws {
        let a = try parse("model: m.yaml\nsteps: 5\ncheckpoint: {every_steps: 1}\n")
        let b = try parse("model: m.yaml\nsteps: 5\nlog: {every_steps: 2}\n")
        let c = try parse("model: m.yaml\nsteps: 6\n")
        #expect(a.canonicalText == b.canonicalText)
        #expect(a.canonicalText != c.canonicalText)
    }

    @Test func everyRepositoryConfigParses() throws {
        let directory = Self.repositoryRoot.appendingPathComponent("configs")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
            .filter { !AblationGridTests.isGrid(directory.appendingPathComponent($0)) }  // grids have their own test
        #expect(names == ["conaclip.yaml", "motis.yaml", "no-distill.yaml", "smoke.yaml", "teacher-pretrain.yaml"])
        var configs: [String: TrainingConfig] = [:]
        for name in names {
            let config = try TrainingConfig.load(path: directory.appendingPathComponent(name).path)
            try config.validate()
            configs[name] = config
        }
        // METHOD.md's default combination, the MoTIS baseline and the no-distillation baseline.
        let conaclip = try #require(configs["conaclip.yaml"]).loss.terms.map { "\($0.type.rawValue):\($0.strategy.rawValue)" }
        #expect(Set(conaclip) == ["intra-ts:infonce", "intra-ts:fd", "intra-ts:sym-sd", "intra-ss:sd", "inter-ts:sym-kl", "inter-ss:kl"])
        #expect(try #require(configs["motis.yaml"]).loss.terms.map { "\($0.type.rawValue):\($0.strategy.rawValue)" } == ["intra-ts:infonce"])
        #expect(try #require(configs["no-distill.yaml"]).loss.terms.isEmpty)
        #expect(try #require(configs["teacher-pretrain.yaml"]).teacher == nil)
        let smoke = try #require(configs["smoke.yaml"])
        guard case .synthetic = smoke.data else { Issue.record("smoke.yaml must use the built-in synthetic data"); return }
        guard case .initialized = smoke.teacher else { Issue.record("smoke.yaml must make its teacher from a seed"); return }
    }
}
