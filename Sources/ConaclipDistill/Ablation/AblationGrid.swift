import Crypto
import Foundation
import Yams

/// An ablation grid (configs/ablation.yaml): a base training config, the
/// baseline loss, and the cells, each a set of loss terms added to the
/// baseline, trained with the same data, models, schedule and seed, then
/// evaluated on one split. `conaclip ablate` runs it and writes the table of
/// mean recall per cell (the paper's Table 1).
///
/// ```yaml
/// base: configs/motis.yaml             # training config every run starts from (required)
/// baseline:                            # default: the base config's loss section
///   task_weight: 1.0                   # default: the base's
///   terms: [intra-ts:infonce:0.07]     # default: the base's terms
///   kl_tau_squared: false              # default: the base's
/// steps: 2000                          # or epochs: N; default: the base's length
/// types: [intra-ts, inter-ts]          # default grid: every defined strategy on each; default these two
/// tau: 0.07                            # default-grid tau of infonce, kl, sym-kl (fd, sd, sym-sd take 1); default 0.07
/// weight: 1.0                          # default-grid term weight; default 1
/// cells: [inter-ts:sym-kl:0.07]        # optional: these cells instead of the default grid
/// combinations:                        # optional extra cells: several terms added at once
///   - [intra-ts:fd:1, inter-ts:sym-kl:0.07]
/// eval:
///   manifest: data/emoji/manifest.jsonl   # default: the base's data.manifest
///   split: val                            # default val ("all" = every record)
///   on_bad_record: stop                   # stop | skip; default stop
///   # synthetic: {pairs: 64, seed: 7}    # or built-in shapes (for smoke tests)
///   batch: 64                             # images or texts per forward pass; default 64
/// ```
///
/// A cell term equal to a baseline term (type, strategy, tau and weight) is
/// not added twice; a cell all of whose terms are in the baseline is the
/// baseline itself and reports its numbers.
public struct AblationGrid: Sendable {
    /// One run of the grid: the baseline (no added terms) or a cell.
    public struct Cell: Sendable, Equatable {
        /// "baseline", a term spec, or specs joined by " + ".
        public var name: String
        /// A file-name-safe form of the name (directory and config names).
        public var slug: String
        /// Terms added to the baseline (empty for the baseline).
        public var terms: [LossTerm]
        /// Every added term is already in the baseline: the cell is the baseline run.
        public var isSameAsBaseline: Bool

        public var isBaseline: Bool { terms.isEmpty }
        /// The single term of a one-term cell (its place in the type x strategy matrix).
        public var single: LossTerm? { terms.count == 1 ? terms[0] : nil }
    }

    /// Where and how every cell is evaluated.
    public struct Evaluation: Sendable, Equatable {
        public var data: TrainingConfig.DataSource
        /// Images or texts per forward pass.
        public var batch: Int

        /// The settings that change the recalls, as text (part of a cell's
        /// digest). The batch is one of them: it decides which rows share a
        /// matrix product, so it can move an embedding in the last bits.
        public var canonicalText: String {
            switch data {
            case let .manifest(path, split, policy):
                return "eval.manifest=\(path)\neval.split=\(split ?? "all")\neval.on_bad_record=\(policy.rawValue)\n"
                    + "eval.batch=\(batch)\n"
            case let .synthetic(pairs, seed):
                return "eval.synthetic.pairs=\(pairs)\neval.synthetic.seed=\(seed)\neval.batch=\(batch)\n"
            }
        }
    }

    /// The grid file (for messages).
    public var source: String
    /// The base config's path and contents.
    public var basePath: String
    public var base: TrainingConfig
    /// The loss of the baseline run.
    public var baseline: TrainingConfig.Loss
    /// Overrides the base's length when set.
    public var duration: TrainingConfig.Duration?
    public var evaluation: Evaluation
    /// The baseline first, then the cells in grid order.
    public var cells: [Cell]

    public static let defaultTypes: [InteractionType] = [.intraTS, .interTS]
    public static let defaultTau = 0.07
    public static let defaultEvalSplit = "val"
    public static let defaultEvalBatch = 64
    static let topLevelKeys = ["base", "baseline", "steps", "epochs", "types", "tau", "weight", "cells",
                               "combinations", "eval"]

    /// The cells of the default grid: every strategy defined on each of
    /// `types`, in `SupervisionStrategy` order; infonce, kl and sym-kl at
    /// `tau`, the others at tau 1 (which they do not use).
    public static func defaultCells(types: [InteractionType], tau: Double, weight: Double,
                                    klTauSquared: Bool) throws(LossGraphError) -> [LossTerm] {
        var terms: [LossTerm] = []
        for type in types {
            for strategy in SupervisionStrategy.allCases where strategy.isDefined(on: type) {
                let usesTau = strategy == .infonce || strategy.isKL
                terms.append(try LossTerm(type: type, strategy: strategy, tau: usesTau ? tau : 1, weight: weight,
                                          klTauSquared: klTauSquared && strategy.isKL))
            }
        }
        return terms
    }

    // MARK: - Loading

    /// Reads the grid at `path` and the base config it names.
    public static func load(path: String) throws(TrainingConfigError) -> AblationGrid {
        try parse(yaml: try ConfigMapping.readText(path: path), source: path)
    }

    /// Parses grid text; `source` names it in errors. The base config is read
    /// from the path the grid gives (relative to the current directory).
    public static func parse(yaml: String, source: String,
                             loadBase: (String) throws(TrainingConfigError) -> TrainingConfig = { path throws(TrainingConfigError) in
                                 try TrainingConfig.load(path: path)
                             }) throws(TrainingConfigError) -> AblationGrid {
        let root = try ConfigMapping(yaml: yaml, source: source, allowed: topLevelKeys)
        guard let basePath = try root.string("base") else { throw root.missing("base") }
        let base = try loadBase(basePath)

        // Baseline loss.
        var baseline = base.loss
        if let section = try root.mapping("baseline", allowed: ["task_weight", "terms", "kl_tau_squared"]) {
            if let weight = try section.double("task_weight") {
                guard weight.isFinite, weight >= 0 else { throw section.invalid("task_weight", "must be finite and >= 0, got \(weight)") }
                baseline.taskWeight = weight
            }
            baseline.klTauSquared = try section.bool("kl_tau_squared") ?? base.loss.klTauSquared
            if let items = try section.stringList("terms") {
                baseline.terms = try items.map { item throws(TrainingConfigError) in
                    try TrainingConfig.lossTerm(item.value, source: item.source, key: item.key,
                                                klTauSquared: baseline.klTauSquared)
                }
            }
        }

        // Length.
        var duration: TrainingConfig.Duration?
        switch (try root.int("steps"), try root.int("epochs")) {
        case (.some, .some):
            throw .conflictingKeys(source: root.location("epochs"), keys: ["steps", "epochs"],
                                   reason: "give the runs' length one way only")
        case let (.some(value), nil):
            guard value >= 1 else { throw root.invalid("steps", "must be >= 1, got \(value)") }
            duration = .steps(value)
        case let (nil, .some(value)):
            guard value >= 1 else { throw root.invalid("epochs", "must be >= 1, got \(value)") }
            duration = .epochs(value)
        case (nil, nil):
            break
        }

        // Cells.
        var added: [(terms: [LossTerm], source: String)] = []
        if let items = try root.stringList("cells") {
            for key in ["types", "tau", "weight"] where root.has(key) {
                throw .conflictingKeys(source: root.location(key), keys: ["cells", key],
                                       reason: "\(key) shapes the default grid, which an explicit cells list replaces")
            }
            for item in items {
                added.append(([try TrainingConfig.lossTerm(item.value, source: item.source, key: item.key,
                                                           klTauSquared: baseline.klTauSquared)], item.source))
            }
        } else {
            var types = defaultTypes
            if let items = try root.stringList("types") {
                types = try items.map { item throws(TrainingConfigError) in
                    guard let type = InteractionType(rawValue: item.value) else {
                        throw .invalidValue(source: item.source, key: item.key,
                                            reason: "unknown interaction type \(item.value); use one of \(InteractionType.allowedNames)")
                    }
                    return type
                }
            }
            let tau = try root.double("tau") ?? defaultTau
            guard tau.isFinite, tau > 0 else { throw root.invalid("tau", "must be finite and > 0, got \(tau)") }
            let weight = try root.double("weight") ?? 1
            guard weight.isFinite, weight >= 0 else { throw root.invalid("weight", "must be finite and >= 0, got \(weight)") }
            do {
                for term in try defaultCells(types: types, tau: tau, weight: weight, klTauSquared: baseline.klTauSquared) {
                    added.append(([term], root.location("types")))
                }
            } catch {
                throw .invalidValue(source: root.location("types"), key: "types", reason: error.description)
            }
        }
        if let node = root.node("combinations") {
            guard case let .sequence(list) = node else { throw root.wrongType("combinations", expected: "a list of lists of terms") }
            for (index, entry) in list.enumerated() {
                let key = "combinations[\(index)]"
                let at = ConfigMapping.at(source, entry.mark?.line)
                guard case let .sequence(specs) = entry, !specs.isEmpty else {
                    throw .wrongType(source: at, key: key, expected: "a non-empty list of TYPE:STRATEGY:TAU[:WEIGHT] terms",
                                     found: ConfigMapping.kind(of: entry))
                }
                var terms: [LossTerm] = []
                for (position, spec) in specs.enumerated() {
                    guard case let .scalar(scalar) = spec else {
                        throw .wrongType(source: at, key: "\(key)[\(position)]", expected: "a term string",
                                         found: ConfigMapping.kind(of: spec))
                    }
                    terms.append(try TrainingConfig.lossTerm(scalar.string, source: at, key: "\(key)[\(position)]",
                                                             klTauSquared: baseline.klTauSquared))
                }
                added.append((terms, at))
            }
        }

        // Evaluation.
        let evaluation = try readEvaluation(root, base: base)

        // Cells: the baseline, then each list in order; no set of terms twice.
        var cells = [Cell(name: "baseline", slug: "baseline", terms: [], isSameAsBaseline: true)]
        var seen: [Set<LossTerm>: String] = [:]
        for (terms, at) in added {
            let key = Set(terms)
            guard key.count == terms.count else {
                throw .invalidValue(source: at, key: "combinations", reason: "a combination names the same term twice")
            }
            if let earlier = seen[key] {
                throw .invalidValue(source: at, key: "cells",
                                    reason: "the cell \(terms.map(\.spec).joined(separator: " + ")) is listed twice (first at \(earlier))")
            }
            seen[key] = at
            let name = terms.map(\.spec).joined(separator: " + ")
            cells.append(Cell(name: name, slug: slug(for: terms), terms: terms,
                              isSameAsBaseline: terms.allSatisfy(baseline.terms.contains)))
        }
        let grid = AblationGrid(source: source, basePath: basePath, base: base, baseline: baseline, duration: duration,
                                evaluation: evaluation, cells: cells)
        // Every run must be a valid training config (e.g. terms need a teacher).
        for cell in grid.cells where !cell.isSameAsBaseline || cell.isBaseline {
            do { try grid.config(for: cell).validate() } catch {
                throw .invalidValue(source: source, key: cell.isBaseline ? "baseline" : "cells",
                                    reason: "cell \(cell.name) (base \(basePath)): \(error)")
            }
        }
        return grid
    }

    private static func readEvaluation(_ root: ConfigMapping, base: TrainingConfig) throws(TrainingConfigError) -> Evaluation {
        let section = try root.mapping("eval", allowed: ["manifest", "split", "on_bad_record", "synthetic", "batch"])
        var batch = defaultEvalBatch
        if let section, let value = try section.int("batch") {
            guard value >= 1 else { throw section.invalid("batch", "must be >= 1, got \(value)") }
            batch = value
        }
        if let section, let synthetic = try section.mapping("synthetic", allowed: ["pairs", "seed"]) {
            for key in ["manifest", "split", "on_bad_record"] where section.has(key) {
                throw .conflictingKeys(source: section.location(key), keys: ["eval.synthetic", "eval.\(key)"],
                                       reason: "synthetic data has no manifest")
            }
            let pairs = try synthetic.int("pairs") ?? 64
            guard pairs >= 1 else { throw synthetic.invalid("pairs", "must be >= 1, got \(pairs)") }
            return Evaluation(data: .synthetic(pairs: pairs, seed: try synthetic.seed("seed") ?? 0), batch: batch)
        }
        var manifest = try section?.string("manifest")
        if manifest == nil, case let .manifest(path, _, _) = base.data { manifest = path }
        guard let manifest else {
            throw .missingKey(source: root.location("eval"),
                              key: "eval.manifest (the base config's data is synthetic; name the evaluation data, "
                                + "or eval.synthetic: {pairs, seed} for built-in shapes)")
        }
        var split: String? = try section?.string("split") ?? defaultEvalSplit
        if split == "all" { split = nil }
        var policy = TrainingConfig.BadRecordPolicy.stop
        if let section, let name = try section.string("on_bad_record") {
            guard let parsed = TrainingConfig.BadRecordPolicy(rawValue: name) else {
                throw section.invalid("on_bad_record", "must be one of \(TrainingConfig.BadRecordPolicy.allCases.map(\.rawValue).joined(separator: ", ")), got \(name)")
            }
            policy = parsed
        }
        return Evaluation(data: .manifest(path: manifest, split: split, onBadRecord: policy), batch: batch)
    }

    /// A file-name-safe name for a set of terms: specs with `:` as `_`,
    /// joined by `+`; long combinations become `combo-` and a hash.
    static func slug(for terms: [LossTerm]) -> String {
        let joined = terms.map { $0.spec.replacingOccurrences(of: ":", with: "_") }.joined(separator: "+")
        guard joined.utf8.count > 120 else { return joined }
        let hash = SHA256.hash(data: Data(joined.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()
        return "combo-\(terms.count)-terms-\(hash)"
    }

    // MARK: - Runs

    /// The training config of `cell`: the base with the baseline's loss plus
    /// the cell's terms (those not already in the baseline) and the grid's
    /// length. Its `source` is the grid, until it is written to a file.
    public func config(for cell: Cell) -> TrainingConfig {
        var config = base
        config.source = source
        config.loss = baseline
        config.loss.terms += cell.terms.filter { !baseline.terms.contains($0) }
        if let duration { config.duration = duration }
        return config
    }

    /// The cell that actually runs for `cell`: the baseline for a cell all of
    /// whose terms are in the baseline, the cell itself otherwise.
    public func runningCell(for cell: Cell) -> Cell {
        cell.isSameAsBaseline ? (cells.first ?? cell) : cell
    }

    /// The cells that are trained (the baseline and every cell not identical to it).
    public var runs: [Cell] { cells.filter { $0.isBaseline || !$0.isSameAsBaseline } }

    /// SHA-256 identifying a finished cell: the version tag, the cell's
    /// canonical training text (every setting that changes the weights),
    /// the evaluation settings and `inputsDigest` (a digest of what the
    /// paths point at: teacher weights, tokenizer and data). A recorded
    /// result is reused only under the same digest.
    public func digest(for cell: Cell, inputsDigest: String) -> String {
        let text = "conaclip-ablate-cell-v1\n" + config(for: cell).canonicalText + evaluation.canonicalText
            + "inputs=" + inputsDigest + "\n"
        return SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
