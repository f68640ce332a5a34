import Foundation
import Testing
@testable import ConaclipDistill

/// Reading ablation grids (configs/ablation*.yaml): the default grid, explicit
/// cells and combinations, the cells' training configs, digests and refusals.
@Suite struct AblationGridTests {
    static let base = """
        model: configs/models/student-64.yaml
        teacher: runs/teacher/final
        data: {manifest: data/emoji/manifest.jsonl}
        steps: 100
        loss: {task_weight: 1, terms: [intra-ts:infonce:0.07]}

        """

    /// Parses `yaml` with `base.yaml` read from `baseText`.
    func grid(_ yaml: String, baseText: String = AblationGridTests.base) throws -> AblationGrid {
        try AblationGrid.parse(yaml: yaml, source: "grid.yaml") { path throws(TrainingConfigError) in
            try TrainingConfig.parse(yaml: baseText, source: path)
        }
    }

    func refusal(_ yaml: String, baseText: String = AblationGridTests.base) -> String? {
        do {
            _ = try grid(yaml, baseText: baseText)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func theDefaultGridIsEveryDefinedStrategyOnIntraAndInterTeacherStudent() throws {
        let g = try grid("base: base.yaml\n")
        #expect(g.cells.first?.isBaseline == true)
        let cells = g.cells.dropFirst().map(\.name)
        let strategies = ["infonce:0.07", "fd:1.0", "sd:1.0", "kl:0.07", "sym-sd:1.0", "sym-kl:0.07"]
        #expect(cells == strategies.map { "intra-ts:" + $0 } + strategies.map { "inter-ts:" + $0 })
        // intra-ts:infonce is the MoTIS baseline itself: reported as the baseline, not trained again.
        #expect(g.cells[1].isSameAsBaseline && g.cells.dropFirst(2).allSatisfy { !$0.isSameAsBaseline })
        #expect(g.runs.count == 12)
        // The evaluation defaults: the base's manifest, split val, batch 64.
        #expect(g.evaluation == AblationGrid.Evaluation(data: .manifest(path: "data/emoji/manifest.jsonl", split: "val",
                                                                          onBadRecord: .stop), batch: 64))
    }

    @Test func typesTauAndWeightShapeTheDefaultGrid() throws {
        let g = try grid("base: base.yaml\ntypes: [intra-ss, inter-ss]\ntau: 0.1\nweight: 0.5\n")
        #expect(g.cells.dropFirst().map(\.name) == [
            "intra-ss:sd:1.0:0.5", "intra-ss:kl:0.1:0.5", "intra-ss:sym-sd:1.0:0.5", "intra-ss:sym-kl:0.1:0.5",
            "inter-ss:infonce:0.1:0.5", "inter-ss:fd:1.0:0.5", "inter-ss:sd:1.0:0.5", "inter-ss:kl:0.1:0.5",
        ])
    }

    @Test func cellsCombinationsAndTheirConfigs() throws {
        let g = try grid("""
            base: base.yaml
            baseline: {task_weight: 0.5, terms: [intra-ts:infonce:0.05], kl_tau_squared: true}
            epochs: 3
            cells: [inter-ts:sym-kl:0.07, "intra-ss:sd:1:2"]
            combinations:
              - [intra-ts:fd:1, inter-ts:sym-kl:0.07]
            eval: {manifest: other.jsonl, split: test, batch: 8, on_bad_record: skip}
            """)
        #expect(g.cells.map(\.name) == ["baseline", "inter-ts:sym-kl:0.07", "intra-ss:sd:1.0:2.0",
                                        "intra-ts:fd:1.0 + inter-ts:sym-kl:0.07"])
        #expect(g.cells.map(\.slug) == ["baseline", "inter-ts_sym-kl_0.07", "intra-ss_sd_1.0_2.0",
                                        "intra-ts_fd_1.0+inter-ts_sym-kl_0.07"])
        #expect(g.cells[3].single == nil && g.cells[1].single?.strategy == .symKL)
        #expect(g.evaluation == AblationGrid.Evaluation(data: .manifest(path: "other.jsonl", split: "test", onBadRecord: .skip), batch: 8))

        let baseline = g.config(for: g.cells[0])
        #expect(baseline.loss.taskWeight == 0.5)
        #expect(baseline.loss.terms.map(\.spec) == ["intra-ts:infonce:0.05"])
        #expect(baseline.duration == .epochs(3))
        #expect(baseline.model == "configs/models/student-64.yaml" && baseline.teacher == .directory("runs/teacher/final"))
        let combination = g.config(for: g.cells[3])
        #expect(combination.loss.terms.map(\.spec) == ["intra-ts:infonce:0.05", "intra-ts:fd:1.0", "inter-ts:sym-kl:0.07"])
        // kl_tau_squared reaches the KL-family cell terms.
        #expect(combination.loss.terms.map(\.klTauSquared) == [false, false, true])
        try combination.validate()
    }

    @Test func digestsChangeWithWhatChangesTheResult() throws {
        let g = try grid("base: base.yaml\ncells: [inter-ts:sym-kl:0.07]\n")
        let cell = g.cells[1]
        let digest = g.digest(for: cell, inputsDigest: "inputs")
        #expect(digest.count == 64)
        #expect(g.digest(for: cell, inputsDigest: "inputs") == digest)
        #expect(g.digest(for: g.cells[0], inputsDigest: "inputs") != digest)
        #expect(g.digest(for: cell, inputsDigest: "other inputs") != digest)
        let longer = try grid("base: base.yaml\ncells: [inter-ts:sym-kl:0.07]\nsteps: 101\n")
        #expect(longer.digest(for: longer.cells[1], inputsDigest: "inputs") != digest)
        let otherSplit = try grid("base: base.yaml\ncells: [inter-ts:sym-kl:0.07]\neval: {split: test}\n")
        #expect(otherSplit.digest(for: otherSplit.cells[1], inputsDigest: "inputs") != digest)
        // Checkpoint and log settings do not change a result.
        let chatty = try grid("base: base.yaml\ncells: [inter-ts:sym-kl:0.07]\n",
                              baseText: Self.base + "checkpoint: {every_steps: 7}\nlog: {every_steps: 1}\n")
        #expect(chatty.digest(for: chatty.cells[1], inputsDigest: "inputs") == digest)
    }

    @Test func refusalsNameTheGridAndTheEntry() {
        #expect(refusal("cells: [inter-ts:sym-kl:0.07]\n")?.contains("missing key base") == true)
        #expect(refusal("base: base.yaml\ncels: []\n")?.contains("did you mean cells") == true)
        let undefined = refusal("base: base.yaml\ncells: [intra-ts:fd:1, intra-ss:infonce:0.07]\n")
        #expect(undefined?.contains("grid.yaml:2: cells[1]") == true && undefined?.contains("undefined") == true, "\(undefined ?? "")")
        #expect(refusal("base: base.yaml\ncells: [inter-ts:kl:0.07, inter-ts:kl:0.07]\n")?.contains("listed twice") == true)
        #expect(refusal("base: base.yaml\ncells: [inter-ts:kl:0.07]\ncombinations: [[inter-ts:kl:0.07]]\n")?
            .contains("listed twice") == true)
        #expect(refusal("base: base.yaml\ncells: [inter-ts:kl:0.07]\ntypes: [intra-ts]\n")?.contains("cells and types") == true)
        #expect(refusal("base: base.yaml\ntypes: [cross-ts]\n")?.contains("unknown interaction type cross-ts") == true)
        #expect(refusal("base: base.yaml\nsteps: 3\nepochs: 1\n")?.contains("cannot both be set") == true)
        #expect(refusal("base: base.yaml\ncombinations: [inter-ts:kl:0.07]\n")?.contains("combinations[0]") == true)
        #expect(refusal("base: base.yaml\neval: {synthetic: {pairs: 4}, split: val}\n")?.contains("synthetic data has no manifest") == true)
        // Terms need a teacher: a base without one cannot host distillation cells.
        let noTeacher = "model: m.yaml\ndata: {manifest: d.jsonl}\n"
        #expect(refusal("base: base.yaml\ncells: [intra-ts:fd:1]\n", baseText: noTeacher)?.contains("need a teacher") == true)
        // Synthetic training data has no split to evaluate on unless the grid names one.
        let synthetic = "model: m.yaml\nteacher: {init: t.yaml}\ndata: {synthetic: {pairs: 8}}\n"
        #expect(refusal("base: base.yaml\ncells: [intra-ts:fd:1]\n", baseText: synthetic)?.contains("eval.manifest") == true)
        #expect(refusal("base: base.yaml\ncells: [intra-ts:fd:1]\neval: {synthetic: {pairs: 8, seed: 3}}\n",
                        baseText: synthetic) == nil)
    }

    /// Whether a YAML file in configs/ is an ablation grid (it names a `base:` config).
    static func isGrid(_ file: URL) -> Bool {
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return false }
        return text.split(separator: "\n").contains { $0.hasPrefix("base:") }
    }

    @Test func theRepositoryGridsParse() throws {
        let root = TrainingConfigTests.repositoryRoot
        // Grids name their base relative to the repository root.
        func load(_ name: String) throws -> AblationGrid {
            let text = try String(contentsOf: root.appendingPathComponent(name), encoding: .utf8)
            return try AblationGrid.parse(yaml: text, source: name) { path throws(TrainingConfigError) in
                try TrainingConfig.load(path: root.appendingPathComponent(path).path)
            }
        }
        let full = try load("configs/ablation.yaml")
        // Every strategy defined on every type (6 + 4 + 6 + 4), then METHOD.md's default combination.
        #expect(full.cells.count == 1 + 20 + 1)
        #expect(full.cells.last?.terms.count == 5)
        #expect(full.basePath == "configs/motis.yaml")
        for type in InteractionType.allCases {
            for strategy in SupervisionStrategy.allCases where strategy.isDefined(on: type) {
                #expect(full.cells.contains { $0.single?.type == type && $0.single?.strategy == strategy }, "\(type):\(strategy)")
            }
        }
        // Every grid in configs/ parses and validates, whatever else it holds.
        let directory = root.appendingPathComponent("configs")
        let grids = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".yaml") && Self.isGrid(directory.appendingPathComponent($0)) }
        #expect(grids.contains("ablation.yaml") && grids.contains("ablation-tiny.yaml"))
        for name in grids { _ = try load("configs/" + name) }
        let tiny = try load("configs/ablation-tiny.yaml")
        #expect(tiny.runs.map(\.name) == ["baseline", "inter-ts:sym-kl:0.07", "inter-ts:sym-kl:0.07 + intra-ss:sd:1.0"])
        #expect(tiny.evaluation.data == .synthetic(pairs: 48, seed: 7))
    }
}
