import ArgumentParser
import ConaclipCluster
import Foundation

/// `conaclip bench distill`: distillation training steps reading the teacher
/// embeddings from the teacher cache, against running the teacher every
/// step, interleaved in one run on the same batches.
struct DistillBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distill",
        abstract: "Distillation pairs/s with the teacher-embedding cache against running the teacher every step, in one run.",
        discussion: """
            Builds two training sessions from one config (a teacher directory and manifest data, e.g. \
            configs/conaclip.yaml): one runs the frozen teacher forward every step, the other reads its \
            embeddings from a teacher cache (--cache, or a temporary one built here; its build time is \
            reported apart, as a one-off cost). Their steps alternate on the same batches, one BLAS \
            thread, and each is timed from filling the batch (decoding, preprocessing, tokenizing) to the \
            optimizer update. Prints the median pairs/s of each and their ratio, and checks that the two \
            give the same first-step loss.
            """)

    @Option(help: "Training config with a teacher directory and manifest data (e.g. configs/conaclip.yaml).")
    var config: String

    @Option(help: "Use this teacher directory instead of the config's (its tokenizer too, when the config used the teacher's).")
    var teacher: String?

    @Option(help: "Teacher cache file to use or build (default: a temporary file built in this run).")
    var cache: String?

    @Option(help: "Pairs per step (default: the config's batch_size).")
    var batch: Int?

    @Option(help: "Timed steps of each kind (the median is reported).")
    var steps = 5

    @Option(help: "Untimed warm-up steps of each kind.")
    var warmup = 1

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        guard steps > 0, warmup >= 0 else { throw ValidationError("--steps must be positive and --warmup non-negative") }
        if let batch, batch <= 0 { throw ValidationError("--batch must be positive") }
    }

    func run() throws {
        BLAS.setThreads(1)
        var base = try TrainingConfig.load(path: config)
        if let teacher {
            if case let .directory(old)? = base.teacher, base.tokenizer == .directory(old) { base.tokenizer = .directory(teacher) }
            base.teacher = .directory(teacher)
        }
        guard case let .directory(teacherPath)? = base.teacher else {
            throw ValidationError("\(config) needs `teacher: DIR` (a teacher cache is keyed by a teacher directory); or give --teacher DIR")
        }
        guard !base.loss.terms.isEmpty else { throw ValidationError("\(config) has no distillation terms, so no teacher is used") }
        if let batch {
            base.batchSize = batch
            if batch % base.microShards != 0 { base.microShards = 1 }
        }
        base.duration = .steps(warmup + steps)
        base.optimizer.warmupSteps = 0
        base.checkpoint.everySteps = 0
        base.teacherCache = nil

        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("conaclip-bench-distill-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var cached = base
        let cachePath = cache ?? scratch + "/teacher.cache"
        cached.teacherCache = TeacherCacheConfig(path: cachePath, onStale: .rebuild)

        let plain = try TrainingSession(config: base, outputDirectory: scratch + "/teacher", progressMode: .silent)
        let opening = Date()
        let withCache = try TrainingSession(config: cached, outputDirectory: scratch + "/cache", progressMode: .silent)
        let cacheSeconds = Date().timeIntervalSince(opening)

        var samples: [[Sample]] = [[], []]
        var firstLoss: [Double] = [0, 0]
        let sessions = [plain, withCache]
        let batchData = TrainingBatch()
        for i in 0..<(warmup + steps) {
            // Alternate which goes first, so neither always runs on a warmer cache.
            for k in (i % 2 == 0 ? [0, 1] : [1, 0]) {
                let trainer = sessions[k].trainer
                var clock = StepClock()
                try trainer.source.fill(batchData, step: i, batchSize: base.batchSize)
                let data = clock.lap()
                let outcome = try trainer.step.step(batchData, stepIndex: i, learningRate: trainer.schedule.learningRate(atStep: i))
                let total = data + clock.lap()
                if i == 0 { firstLoss[k] = outcome.losses.total }
                if i >= warmup {
                    samples[k].append(Sample(total: total, data: data, embed: outcome.timing.embed))
                }
            }
        }
        let medians = samples.map { list in list.sorted { $0.total < $1.total }[list.count / 2] }
        let pairs = Double(base.batchSize)
        let report = DistillBenchReport(
            config: config, teacher: teacherPath, student: base.model, batch: base.batchSize, microShards: base.microShards,
            steps: steps, blasCore: BLAS.coreName,
            teacherPairsPerSecond: pairs / medians[0].total, cachePairsPerSecond: pairs / medians[1].total,
            speedup: medians[0].total / medians[1].total,
            teacherStepSeconds: medians[0].total, cacheStepSeconds: medians[1].total,
            teacherEmbedSeconds: medians[0].embed, cacheEmbedSeconds: medians[1].embed,
            dataSeconds: (medians[0].data + medians[1].data) / 2,
            cacheRecords: (withCache.trainer.step.teacher as? CachedTeacher)?.cache.count ?? 0,
            cacheOpenSeconds: cacheSeconds, cacheWasGiven: cache != nil,
            firstLossTeacher: firstLoss[0], firstLossCache: firstLoss[1])
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("config:             \(config): student \(base.model), teacher \(teacherPath)")
        print("batch:              \(base.batchSize) pairs in \(base.microShards) micro-shard(s), 1 BLAS thread (core \(BLAS.coreName)), "
            + "median of \(steps) steps each, alternating")
        print(String(format: "teacher every step: %8.1f pairs/s  (step %.3f s: data %.3f s, embed %.3f s)",
                     report.teacherPairsPerSecond, medians[0].total, medians[0].data, medians[0].embed))
        print(String(format: "teacher cache:      %8.1f pairs/s  (step %.3f s: data %.3f s, embed %.3f s)",
                     report.cachePairsPerSecond, medians[1].total, medians[1].data, medians[1].embed))
        print(String(format: "speed-up:           %.2fx with the cache", report.speedup))
        print(String(format: "cache:              %d records, %@ in %.1f s (once per teacher and dataset)",
                     report.cacheRecords, cache == nil ? "built" : "opened (or rebuilt)", cacheSeconds))
        print(String(format: "first-step loss:    %.6f with the teacher, %.6f with the cache", firstLoss[0], firstLoss[1]))
    }

    struct Sample {
        var total: Double
        var data: Double
        var embed: Double
    }
}

/// What `conaclip bench distill --json` prints.
struct DistillBenchReport: Codable {
    var config: String
    var teacher: String
    var student: String
    var batch: Int
    var microShards: Int
    var steps: Int
    var blasCore: String
    var teacherPairsPerSecond: Double
    var cachePairsPerSecond: Double
    /// Teacher-every-step step time over cached step time.
    var speedup: Double
    var teacherStepSeconds: Double
    var cacheStepSeconds: Double
    var teacherEmbedSeconds: Double
    var cacheEmbedSeconds: Double
    var dataSeconds: Double
    var cacheRecords: Int
    var cacheOpenSeconds: Double
    var cacheWasGiven: Bool
    var firstLossTeacher: Double
    var firstLossCache: Double
}
