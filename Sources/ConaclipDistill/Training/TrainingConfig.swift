import Foundation
import Yams

/// A training run as configured in YAML (configs/*.yaml): plain CLIP
/// pre-training when there is no teacher, ConaCLIP distillation otherwise.
///
/// Keys are snake_case; an unknown key is an error naming the key, the file
/// and the line. Relative paths are resolved against the current directory
/// (run from the repository root). Every number has a default:
///
/// ```yaml
/// model: configs/models/student-64.yaml     # student preset (required)
/// teacher: runs/teacher/final                # model directory; absent = plain CLIP pre-training
/// # teacher: {init: configs/models/tiny-teacher.yaml, seed: 1}   # or a teacher made from a seed
/// teacher_cache:                             # optional; default none: the teacher runs every step
///   path: runs/teacher-cache/train.cache     # `conaclip cache build` output for this teacher and data
///   on_stale: refuse                         # refuse | rebuild (missing, corrupt or stale file); default refuse
///   verify_payload: true                     # check the payload SHA-256 on open; default true
/// data:                                      # default {manifest: data/emoji/manifest.jsonl}
///   manifest: data/emoji/manifest.jsonl
///   split: train                             # default train ("all" = every record)
///   on_bad_record: stop                      # stop | skip, default stop
/// # data: {synthetic: {pairs: 256, seed: 0}} # built-in coloured shapes, no download
/// tokenizer: {learn: {vocab_size: 4096}}     # or {directory: DIR}; default: the teacher
///                                            # directory's tokenizer, else learn 4096
/// batch_size: 128                            # default 128
/// micro_shards: 1                            # default 1; must divide batch_size
/// steps: 1000                                # or epochs: N; default epochs: 1
/// seed: 0                                    # default 0 (student init and sample order)
/// optimizer: {lr: 5.0e-4, min_lr: 0, warmup_steps: 0, weight_decay: 0.1,
///             beta1: 0.9, beta2: 0.98, eps: 1.0e-6, max_grad_norm: 1.0}   # the defaults
/// loss:
///   task_weight: 1.0                         # default 1 (inter-ss InfoNCE, learnable logit scale)
///   terms: [intra-ts:infonce:0.07]           # TYPE:STRATEGY:TAU[:WEIGHT], default none
///   kl_tau_squared: false                    # default false
///   shard_local_negatives: false             # default false: negatives are the whole batch
/// checkpoint: {every_steps: 500, keep_last: 3}   # the defaults; every_steps 0 = only at the end
/// log: {every_steps: 10}                     # default 10
/// cluster:                                   # the distributed trainer (coordinator, workers)
///   heartbeat_interval: 1.0                  # seconds between heartbeats, both ways; default 1
///   dead_after: 10.0                         # a silent peer is dead after this many seconds; default 10
///   straggler_factor: 3.0                    # re-issue a task outstanding this many times the
///   straggler_min_seconds: 5.0               #   typical task time, and at least this long; defaults 3, 5
///   min_workers: 1                           # fewer live workers pause training; default 1
///   max_bad_results: 3                       # refused results before a worker is quarantined; default 3
///   tasks_in_flight: 2                       # tasks a worker is sent ahead of its results; default 2
///   faults: []                               # fault injection, e.g. ["worker-exit@step=3,worker=1"]; default none
/// ```
///
/// Neither `checkpoint`, `log` nor `cluster` changes the trained weights, so
/// they are not part of the run's identity (`canonicalText`).
public struct TrainingConfig: Sendable, Equatable {
    /// Where the teacher comes from.
    public enum Teacher: Sendable, Equatable {
        /// A frozen model directory (Hugging Face layout).
        case directory(String)
        /// A model built from a preset and initialised from `seed`, then
        /// optionally trained with the plain CLIP loss for `pretrainSteps`
        /// steps on the training data before distillation starts (for smoke
        /// tests that must not download a teacher).
        case initialized(preset: String, seed: UInt64, pretrainSteps: Int)
    }

    /// What to do with a manifest record that cannot be used (unreadable image, empty caption).
    public enum BadRecordPolicy: String, Sendable, Equatable, CaseIterable {
        /// Stop with an error naming the record.
        case stop
        /// Leave the record out and count it in the run's summary.
        case skip
    }

    /// Where the image-text pairs come from.
    public enum DataSource: Sendable, Equatable {
        /// A dataset manifest (JSONL / CSV / TSV / tar), keeping records of `split` (nil = all).
        case manifest(path: String, split: String?, onBadRecord: BadRecordPolicy)
        /// Built-in coloured-shape images with captions, generated from `seed` (no files needed).
        case synthetic(pairs: Int, seed: UInt64)
    }

    /// Where the tokenizer comes from.
    public enum Tokenizer: Sendable, Equatable {
        /// `vocab.json` + `merges.txt` in a directory.
        case directory(String)
        /// Byte-level BPE learnt from the training captions, saved into the run directory.
        case learn(vocabularySize: Int)
    }

    /// How long to train.
    public enum Duration: Sendable, Equatable {
        case steps(Int)
        /// Whole passes over the training pairs (the last partial batch of each pass is dropped).
        case epochs(Int)
    }

    /// Optimiser and schedule settings (AdamW, warmup + cosine, global-norm clipping).
    public struct Optimizer: Sendable, Equatable {
        /// Peak learning rate. Default 5e-4.
        public var lr: Double = 5e-4
        /// Final learning rate of the cosine decay. Default 0.
        public var minLR: Double = 0
        /// Linear warmup steps. Default 0.
        public var warmupSteps: Int = 0
        /// Decoupled weight decay (CLIP rule: weight matrices only). Default 0.1.
        public var weightDecay: Double = 0.1
        /// Default 0.9.
        public var beta1: Double = 0.9
        /// Default 0.98 (CLIP's).
        public var beta2: Double = 0.98
        /// Default 1e-6 (CLIP's).
        public var eps: Double = 1e-6
        /// Global gradient-norm clip; `.inf` disables clipping. Default 1.
        public var maxGradNorm: Double = 1.0
        public init() {}

        /// The AdamW part.
        public func adamW() throws(OptimizerError) -> AdamWConfig {
            try AdamWConfig(beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay)
        }
    }

    /// The loss: the student task loss plus the distillation terms.
    public struct Loss: Sendable, Equatable {
        /// Weight of the task loss (inter-ss symmetric InfoNCE with CLIP's learnable logit scale). Default 1.
        public var taskWeight: Double = 1
        /// Distillation terms (validated; undefined pairs are refused). Default none.
        public var terms: [LossTerm] = []
        /// Multiply kl / sym-kl terms by tau^2 (Hinton's scaling). Default false.
        public var klTauSquared: Bool = false
        /// Each micro-shard's loss sees only its own rows (negatives local to
        /// the shard; the step's loss is the shards' mean). Default false: the
        /// loss is the exact full-batch loss whatever the micro-shards.
        public var shardLocalNegatives: Bool = false
        public init() {}
    }

    /// One fault-injection spec from `cluster.faults`, with where it was written.
    public struct FaultEntry: Sendable, Equatable {
        public var spec: String
        /// `FILE:LINE` of the entry (for messages).
        public var location: String
        public init(spec: String, location: String) { self.spec = spec; self.location = location }

        /// Entries are equal when their specs are (where they were written does not matter).
        public static func == (a: FaultEntry, b: FaultEntry) -> Bool { a.spec == b.spec }
    }

    /// The distributed trainer's settings (none of them changes the weights).
    public struct Cluster: Sendable, Equatable {
        /// Seconds between heartbeats, sent both ways. Default 1.
        public var heartbeatInterval: Double = 1
        /// Seconds of silence after which a worker (or, for a worker, the
        /// coordinator) is declared gone. Default 10.
        public var deadAfter: Double = 10
        /// A task outstanding longer than this many times the typical task
        /// time of its phase is re-issued to an idle worker. Default 3.
        public var stragglerFactor: Double = 3
        /// ... but never before this many seconds. Default 5.
        public var stragglerMinSeconds: Double = 5
        /// Fewer live workers than this pause training (with a log line). Default 1.
        public var minWorkers: Int = 1
        /// Refused results (corrupt, non-finite, inconsistent) after which a
        /// worker is quarantined. Default 3.
        public var maxBadResults: Int = 3
        /// Tasks sent to a worker before its earlier results come back, so
        /// it computes the next one while the last result travels (1: one
        /// at a time). Default 2.
        public var tasksInFlight: Int = 2
        /// Fault injection (see `conaclip coordinator --help`). Default none.
        public var faults: [FaultEntry] = []
        public init() {}
    }

    /// When checkpoints are written and how many are kept.
    public struct Checkpoint: Sendable, Equatable {
        /// Steps between checkpoints; 0 writes one only at the end or on interruption. Default 500.
        public var everySteps: Int = 500
        /// Newest checkpoints kept (older ones are deleted). Default 3.
        public var keepLast: Int = 3
        public init() {}
    }

    /// How often metrics are logged.
    public struct Log: Sendable, Equatable {
        /// Steps between metrics lines (and progress lines when not on a terminal). Default 10.
        public var everySteps: Int = 10
        public init() {}
    }

    /// The file the config was read from (for messages).
    public var source: String
    /// Student model preset (YAML).
    public var model: String
    /// nil: plain CLIP pre-training of `model`.
    public var teacher: Teacher?
    /// The teacher's embeddings come from this memory-mapped cache instead
    /// of a forward pass each step (needs `teacher: DIR` and manifest data).
    /// nil (the default): the teacher runs every step.
    public var teacherCache: TeacherCacheConfig?
    public var data: DataSource = .manifest(path: TrainingConfig.defaultManifest, split: "train", onBadRecord: .stop)
    /// nil: the teacher directory's tokenizer, or `learn(4096)` without one.
    public var tokenizer: Tokenizer?
    /// Pairs per optimiser step. Default 128.
    public var batchSize: Int = 128
    /// Fixed number of micro-shards each batch is cut into. Default 1.
    public var microShards: Int = 1
    public var duration: Duration = .epochs(1)
    /// Seed of the student's initial weights and of the sample order. Default 0.
    public var seed: UInt64 = 0
    public var optimizer = Optimizer()
    public var loss = Loss()
    public var checkpoint = Checkpoint()
    public var log = Log()
    public var cluster = Cluster()

    public static let defaultManifest = "data/emoji/manifest.jsonl"
    public static let defaultVocabularySize = 4096
    static let topLevelKeys = ["model", "teacher", "teacher_cache", "data", "tokenizer", "batch_size", "micro_shards", "steps",
                               "epochs", "seed", "optimizer", "loss", "checkpoint", "log", "cluster"]

    public init(source: String, model: String) {
        self.source = source
        self.model = model
    }

    /// The tokenizer the run uses once defaults are applied.
    public var effectiveTokenizer: Tokenizer {
        if let tokenizer { return tokenizer }
        if case let .directory(path) = teacher { return .directory(path) }
        return .learn(vocabularySize: Self.defaultVocabularySize)
    }

    /// Micro-shard size (`batch_size / micro_shards`).
    public var microShardSize: Int { batchSize / microShards }

    // MARK: - Loading

    /// Reads and validates the config at `path`.
    public static func load(path: String) throws(TrainingConfigError) -> TrainingConfig {
        try parse(yaml: try ConfigMapping.readText(path: path), source: path)
    }

    /// Parses and validates config text; `source` names it in errors.
    public static func parse(yaml: String, source: String) throws(TrainingConfigError) -> TrainingConfig {
        let root = try ConfigMapping(yaml: yaml, source: source, allowed: topLevelKeys)
        guard let model = try root.string("model") else { throw root.missing("model") }
        var config = TrainingConfig(source: source, model: model)
        try config.readTeacher(root)
        try config.readTeacherCache(root)
        try config.readData(root)
        try config.readTokenizer(root)
        if let value = try root.int("batch_size") {
            guard value >= 1 else { throw root.invalid("batch_size", "must be >= 1, got \(value)") }
            config.batchSize = value
        }
        if let value = try root.int("micro_shards") {
            guard value >= 1 else { throw root.invalid("micro_shards", "must be >= 1, got \(value)") }
            config.microShards = value
        }
        guard config.batchSize % config.microShards == 0 else {
            throw root.invalid("micro_shards", "batch_size \(config.batchSize) is not divisible by micro_shards \(config.microShards); "
                + "choose a micro_shards that divides it (every micro-shard must hold the same number of pairs)")
        }
        let steps = try root.int("steps"), epochs = try root.int("epochs")
        switch (steps, epochs) {
        case (.some, .some):
            throw .conflictingKeys(source: root.location("epochs"), keys: ["steps", "epochs"],
                                   reason: "give the run's length one way only")
        case let (.some(value), nil):
            guard value >= 1 else { throw root.invalid("steps", "must be >= 1, got \(value)") }
            config.duration = .steps(value)
        case let (nil, .some(value)):
            guard value >= 1 else { throw root.invalid("epochs", "must be >= 1, got \(value)") }
            config.duration = .epochs(value)
        case (nil, nil):
            break
        }
        if let value = try root.seed("seed") { config.seed = value }
        try config.readOptimizer(root)
        try config.readLoss(root)
        if let section = try root.mapping("checkpoint", allowed: ["every_steps", "keep_last"]) {
            if let value = try section.int("every_steps") {
                guard value >= 0 else { throw section.invalid("every_steps", "must be >= 0 (0 = only at the end), got \(value)") }
                config.checkpoint.everySteps = value
            }
            if let value = try section.int("keep_last") {
                guard value >= 1 else { throw section.invalid("keep_last", "must be >= 1, got \(value)") }
                config.checkpoint.keepLast = value
            }
        }
        if let section = try root.mapping("log", allowed: ["every_steps"]), let value = try section.int("every_steps") {
            guard value >= 1 else { throw section.invalid("every_steps", "must be >= 1, got \(value)") }
            config.log.everySteps = value
        }
        try config.readCluster(root)
        return config
    }

    private mutating func readCluster(_ root: ConfigMapping) throws(TrainingConfigError) {
        let keys = ["heartbeat_interval", "dead_after", "straggler_factor", "straggler_min_seconds", "min_workers",
                    "max_bad_results", "tasks_in_flight", "faults"]
        guard let section = try root.mapping("cluster", allowed: keys) else { return }
        var c = Cluster()
        c.heartbeatInterval = try section.double("heartbeat_interval") ?? c.heartbeatInterval
        c.deadAfter = try section.double("dead_after") ?? c.deadAfter
        c.stragglerFactor = try section.double("straggler_factor") ?? c.stragglerFactor
        c.stragglerMinSeconds = try section.double("straggler_min_seconds") ?? c.stragglerMinSeconds
        c.minWorkers = try section.int("min_workers") ?? c.minWorkers
        c.maxBadResults = try section.int("max_bad_results") ?? c.maxBadResults
        c.tasksInFlight = try section.int("tasks_in_flight") ?? c.tasksInFlight
        guard c.heartbeatInterval.isFinite, c.heartbeatInterval >= 0.01 else {
            throw section.invalid("heartbeat_interval", "must be at least 0.01 seconds, got \(c.heartbeatInterval)")
        }
        guard c.deadAfter.isFinite, c.deadAfter >= 2 * c.heartbeatInterval else {
            throw section.invalid("dead_after", "must be at least twice heartbeat_interval (\(c.heartbeatInterval) s), got \(c.deadAfter)")
        }
        guard c.stragglerFactor.isFinite, c.stragglerFactor >= 1 else {
            throw section.invalid("straggler_factor", "must be at least 1, got \(c.stragglerFactor)")
        }
        guard c.stragglerMinSeconds.isFinite, c.stragglerMinSeconds > 0 else {
            throw section.invalid("straggler_min_seconds", "must be positive, got \(c.stragglerMinSeconds)")
        }
        guard c.minWorkers >= 1 else { throw section.invalid("min_workers", "must be >= 1, got \(c.minWorkers)") }
        guard c.maxBadResults >= 1 else { throw section.invalid("max_bad_results", "must be >= 1, got \(c.maxBadResults)") }
        guard (1...16).contains(c.tasksInFlight) else {
            throw section.invalid("tasks_in_flight", "must be between 1 and 16, got \(c.tasksInFlight)")
        }
        c.faults = (try section.stringList("faults") ?? []).map { FaultEntry(spec: $0.value, location: $0.source) }
        cluster = c
    }

    private mutating func readTeacher(_ root: ConfigMapping) throws(TrainingConfigError) {
        guard let node = root.node("teacher") else { return }
        if case .scalar = node {
            teacher = .directory(try root.string("teacher") ?? "")
            return
        }
        guard let section = try root.mapping("teacher", allowed: ["directory", "init", "seed", "pretrain_steps"]) else { return }
        switch (try section.string("directory"), try section.string("init")) {
        case let (.some(path), nil):
            for key in ["seed", "pretrain_steps"] where section.has(key) {
                throw section.invalid(key, "only applies to a teacher made with init:")
            }
            teacher = .directory(path)
        case let (nil, .some(preset)):
            let pretrain = try section.int("pretrain_steps") ?? 0
            guard pretrain >= 0 else { throw section.invalid("pretrain_steps", "must be >= 0, got \(pretrain)") }
            teacher = .initialized(preset: preset, seed: try section.seed("seed") ?? 0, pretrainSteps: pretrain)
        case (.some, .some):
            throw .conflictingKeys(source: section.location("init"), keys: ["teacher.directory", "teacher.init"],
                                   reason: "a teacher is either loaded from a directory or made from a preset")
        case (nil, nil):
            throw .missingKey(source: root.location("teacher"), key: "teacher.directory (or teacher.init)")
        }
    }

    private mutating func readTeacherCache(_ root: ConfigMapping) throws(TrainingConfigError) {
        guard let node = root.node("teacher_cache") else { return }
        if case .scalar = node {
            teacherCache = TeacherCacheConfig(path: try root.string("teacher_cache") ?? "")
            return
        }
        guard let section = try root.mapping("teacher_cache", allowed: ["path", "on_stale", "verify_payload"]) else { return }
        guard let path = try section.string("path"), !path.isEmpty else { throw section.missing("path") }
        var settings = TeacherCacheConfig(path: path)
        if let name = try section.string("on_stale") {
            guard let policy = TeacherCacheStalePolicy(rawValue: name) else {
                throw section.invalid("on_stale", "must be one of \(TeacherCacheStalePolicy.allCases.map(\.rawValue).joined(separator: ", ")), got \(name)")
            }
            settings.onStale = policy
        }
        settings.verifyPayload = try section.bool("verify_payload") ?? true
        teacherCache = settings
    }

    private mutating func readData(_ root: ConfigMapping) throws(TrainingConfigError) {
        guard let section = try root.mapping("data", allowed: ["manifest", "split", "on_bad_record", "synthetic"]) else { return }
        if let synthetic = try section.mapping("synthetic", allowed: ["pairs", "seed"]) {
            for key in ["manifest", "split", "on_bad_record"] where section.has(key) {
                throw .conflictingKeys(source: section.location(key), keys: ["data.synthetic", "data.\(key)"],
                                       reason: "synthetic data has no manifest")
            }
            let pairs = try synthetic.int("pairs") ?? 256
            guard pairs >= 1 else { throw synthetic.invalid("pairs", "must be >= 1, got \(pairs)") }
            data = .synthetic(pairs: pairs, seed: try synthetic.seed("seed") ?? 0)
            return
        }
        let manifest = try section.string("manifest") ?? Self.defaultManifest
        var split: String? = try section.string("split") ?? "train"
        if split == "all" { split = nil }
        var policy = BadRecordPolicy.stop
        if let name = try section.string("on_bad_record") {
            guard let parsed = BadRecordPolicy(rawValue: name) else {
                throw section.invalid("on_bad_record", "must be one of \(BadRecordPolicy.allCases.map(\.rawValue).joined(separator: ", ")), got \(name)")
            }
            policy = parsed
        }
        data = .manifest(path: manifest, split: split, onBadRecord: policy)
    }

    private mutating func readTokenizer(_ root: ConfigMapping) throws(TrainingConfigError) {
        guard let section = try root.mapping("tokenizer", allowed: ["directory", "learn"]) else { return }
        let learn = try section.mapping("learn", allowed: ["vocab_size"])
        switch (try section.string("directory"), learn) {
        case let (.some(path), nil):
            tokenizer = .directory(path)
        case let (nil, .some(learn)):
            let size = try learn.int("vocab_size") ?? Self.defaultVocabularySize
            guard size >= BPETrainer.minimumVocabularySize else {
                throw learn.invalid("vocab_size", "must be at least \(BPETrainer.minimumVocabularySize) "
                    + "(256 byte symbols, their 256 end-of-word forms and 2 special tokens), got \(size)")
            }
            tokenizer = .learn(vocabularySize: size)
        case (.some, .some):
            throw .conflictingKeys(source: section.location("learn"), keys: ["tokenizer.directory", "tokenizer.learn"],
                                   reason: "a tokenizer is either loaded or learnt")
        case (nil, nil):
            throw .missingKey(source: root.location("tokenizer"), key: "tokenizer.directory (or tokenizer.learn)")
        }
    }

    private mutating func readOptimizer(_ root: ConfigMapping) throws(TrainingConfigError) {
        let keys = ["lr", "min_lr", "warmup_steps", "weight_decay", "beta1", "beta2", "eps", "max_grad_norm"]
        guard let section = try root.mapping("optimizer", allowed: keys) else { return }
        var o = Optimizer()
        o.lr = try section.double("lr") ?? o.lr
        o.minLR = try section.double("min_lr") ?? o.minLR
        o.warmupSteps = try section.int("warmup_steps") ?? o.warmupSteps
        o.weightDecay = try section.double("weight_decay") ?? o.weightDecay
        o.beta1 = try section.double("beta1") ?? o.beta1
        o.beta2 = try section.double("beta2") ?? o.beta2
        o.eps = try section.double("eps") ?? o.eps
        o.maxGradNorm = try section.double("max_grad_norm") ?? o.maxGradNorm
        guard o.lr.isFinite, o.lr >= 0 else { throw section.invalid("lr", "must be finite and >= 0, got \(o.lr)") }
        guard o.minLR.isFinite, o.minLR >= 0, o.minLR <= o.lr else {
            throw section.invalid("min_lr", "must be finite, >= 0 and <= lr (\(o.lr)), got \(o.minLR)")
        }
        guard o.warmupSteps >= 0 else { throw section.invalid("warmup_steps", "must be >= 0, got \(o.warmupSteps)") }
        guard o.maxGradNorm > 0 else {
            throw section.invalid("max_grad_norm", "must be > 0 (or .inf to disable clipping), got \(o.maxGradNorm)")
        }
        do { _ = try o.adamW() } catch {
            if case let .invalidHyperparameter(name, _, _) = error, section.has(name) {
                throw section.invalid(name, error.description)
            }
            throw .invalidValue(source: root.location("optimizer"), key: "optimizer", reason: error.description)
        }
        optimizer = o
    }

    private mutating func readLoss(_ root: ConfigMapping) throws(TrainingConfigError) {
        guard let section = try root.mapping("loss", allowed: ["task_weight", "terms", "kl_tau_squared", "shard_local_negatives"]) else { return }
        loss.shardLocalNegatives = try section.bool("shard_local_negatives") ?? false
        if let weight = try section.double("task_weight") {
            guard weight.isFinite, weight >= 0 else { throw section.invalid("task_weight", "must be finite and >= 0, got \(weight)") }
            loss.taskWeight = weight
        }
        loss.klTauSquared = try section.bool("kl_tau_squared") ?? false
        let klTauSquared = loss.klTauSquared
        loss.terms = try (section.stringList("terms") ?? []).map { item throws(TrainingConfigError) in
            try Self.lossTerm(item.value, source: item.source, key: item.key, klTauSquared: klTauSquared)
        }
    }

    /// The loss term `spec` (TYPE:STRATEGY:TAU[:WEIGHT]), with
    /// `kl_tau_squared` applied when it is on and the term is of the KL
    /// family; a bad spec is an `.invalidValue` at `source` and `key`.
    static func lossTerm(_ spec: String, source: String, key: String,
                         klTauSquared: Bool) throws(TrainingConfigError) -> LossTerm {
        do {
            let parsed = try LossTerm(spec: spec)
            return try LossTerm(type: parsed.type, strategy: parsed.strategy, tau: parsed.tau, weight: parsed.weight,
                                klTauSquared: klTauSquared && parsed.strategy.isKL)
        } catch {
            throw .invalidValue(source: source, key: key, reason: error.description)
        }
    }

    // MARK: - Validation against the rest of the run

    /// Checks what needs more than one key: the teacher's presence against the
    /// loss terms, and that something is trained at all.
    public func validate() throws(TrainingConfigError) {
        if teacher == nil && !loss.terms.isEmpty {
            throw .invalidValue(source: source, key: "loss.terms",
                                reason: "distillation terms need a teacher; add `teacher:` or remove the terms")
        }
        if let cache = teacherCache {
            guard case .directory = teacher else {
                throw .invalidValue(source: source, key: "teacher_cache",
                                    reason: teacher == nil
                                        ? "a teacher cache needs a teacher; add `teacher: DIR` or remove teacher_cache"
                                        : "a teacher cache is keyed by a teacher model directory's weights, but this teacher "
                                            + "is made in the run (teacher.init); use `teacher: DIR` or remove teacher_cache")
            }
            guard case .manifest = data else {
                throw .invalidValue(source: source, key: "teacher_cache",
                                    reason: "a teacher cache holds the embeddings of a dataset's records, but data is synthetic; "
                                        + "use data.manifest or remove teacher_cache")
            }
            guard !cache.path.isEmpty else {
                throw .invalidValue(source: source, key: "teacher_cache.path", reason: "must name the cache file")
            }
        }
        if loss.taskWeight == 0 && (loss.terms.isEmpty || loss.terms.allSatisfy { $0.weight == 0 }) {
            throw .invalidValue(source: source, key: "loss", reason: "every loss weight is 0, so nothing would be trained")
        }
    }

    /// The number of optimiser steps for a training set of `pairs` pairs.
    public func totalSteps(trainingPairs pairs: Int) throws(TrainingConfigError) -> Int {
        switch duration {
        case let .steps(steps):
            return steps
        case let .epochs(epochs):
            let perEpoch = pairs / batchSize
            guard perEpoch >= 1 else {
                throw .invalidValue(source: source, key: "batch_size",
                                    reason: "batch_size \(batchSize) is larger than the \(pairs) training pairs; lower it")
            }
            return epochs * perEpoch
        }
    }

    /// A deterministic text of every setting that changes the trained
    /// weights (not checkpoint or log settings): its SHA-256 identifies the
    /// run, so a checkpoint is only resumed under the config that wrote it.
    public var canonicalText: String {
        var lines: [String] = ["model=\(model)"]
        switch teacher {
        case nil: lines.append("teacher=none")
        case let .directory(path)?: lines.append("teacher.directory=\(path)")
        case let .initialized(preset, seed, pretrain)?:
            lines.append("teacher.init=\(preset)"); lines.append("teacher.seed=\(seed)")
            lines.append("teacher.pretrain_steps=\(pretrain)")
        }
        switch data {
        case let .manifest(path, split, policy):
            lines.append("data.manifest=\(path)"); lines.append("data.split=\(split ?? "all")")
            lines.append("data.on_bad_record=\(policy.rawValue)")
        case let .synthetic(pairs, seed):
            lines.append("data.synthetic.pairs=\(pairs)"); lines.append("data.synthetic.seed=\(seed)")
        }
        switch effectiveTokenizer {
        case let .directory(path): lines.append("tokenizer.directory=\(path)")
        case let .learn(size): lines.append("tokenizer.learn.vocab_size=\(size)")
        }
        lines.append("batch_size=\(batchSize)")
        lines.append("micro_shards=\(microShards)")
        switch duration {
        case let .steps(n): lines.append("steps=\(n)")
        case let .epochs(n): lines.append("epochs=\(n)")
        }
        lines.append("seed=\(seed)")
        let o = optimizer
        lines.append("optimizer=lr:\(o.lr),min_lr:\(o.minLR),warmup_steps:\(o.warmupSteps),weight_decay:\(o.weightDecay),"
            + "beta1:\(o.beta1),beta2:\(o.beta2),eps:\(o.eps),max_grad_norm:\(o.maxGradNorm)")
        lines.append("loss.task_weight=\(loss.taskWeight)")
        lines.append("loss.terms=\(loss.terms.map(\.description).joined(separator: ","))")
        // Cached embeddings were computed in other forward batches than the
        // step's micro-shards, so they differ in the last bits: a run that
        // reads them is another run. These lines are absent by default, so
        // the digests of runs without them are what they always were.
        if teacherCache != nil { lines.append("teacher_cache=on") }
        if loss.shardLocalNegatives { lines.append("loss.shard_local_negatives=true") }
        return lines.joined(separator: "\n") + "\n"
    }
}
