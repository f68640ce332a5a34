import Crypto
import Foundation

/// Everything a `conaclip train` run needs, built from a `TrainingConfig`:
/// the run's components (`RunComponents`: pairs, tokenizer, student,
/// teacher, sampler, batch source), the exact distillation step and the
/// `Trainer`.
///
/// The run directory gets `tokenizer/` (when learnt), `preprocessor_config.json`
/// and `config.yaml` (a copy of the config); both model files go into every
/// checkpoint and the final model directory, which therefore load with
/// `CLIPEncoder` and `transformers.CLIPModel`.
public final class TrainingSession {
    public let config: TrainingConfig
    public let run: RunDirectory
    public let components: RunComponents
    public let trainer: Trainer
    public var pairs: TrainingPairs { components.pairs }
    public var totalSteps: Int { components.totalSteps }
    /// SHA-256 of the config's canonical text and the resolved student config.
    public var configDigest: String { components.configDigest }
    /// Lines describing the set-up (data, models, steps), also said as they are known.
    public var summary: [String] { components.summary }

    /// Builds the run. `say` receives the summary lines as they become known
    /// and progress messages (teacher pre-training).
    public init(config: TrainingConfig, outputDirectory: String, progressMode: ProgressDisplay.Mode,
                stopAfterStep: Int? = nil, say: (String) -> Void = { _ in }) throws(TrainingError) {
        self.config = config
        let run = try RunComponents.prepareRunDirectory(config: config, path: outputDirectory)
        self.run = run
        let components = try RunComponents(config: config, workDirectory: run.path, teacherMode: .build, say: say)
        self.components = components
        let step = try DistillationStep(student: components.student, teacher: components.teacher, terms: config.loss.terms,
                                        taskWeight: config.loss.taskWeight, microShards: config.microShards,
                                        optimizer: components.optimizer, maxGradientNorm: config.optimizer.maxGradNorm,
                                        shardLocalNegatives: config.loss.shardLocalNegatives)
        let settings = Trainer.Settings(
            totalSteps: components.totalSteps, batchSize: config.batchSize, checkpointEvery: config.checkpoint.everySteps,
            keepLast: config.checkpoint.keepLast, logEvery: config.log.everySteps, configDigest: components.configDigest,
            stopAfterStep: stopAfterStep)
        trainer = Trainer(step: step, schedule: components.schedule, source: components.batchSource, run: run,
                          modelConfig: components.studentConfig, extraFiles: components.extraFiles, settings: settings,
                          progress: ProgressDisplay(mode: progressMode, totalSteps: components.totalSteps, batchSize: config.batchSize,
                                                    every: config.log.everySteps))
    }
}

/// What a training run is made of, built from its config the same way in
/// every process that takes part: `conaclip train`, the coordinator and
/// each worker. The pairs, the tokenizer (loaded, or learnt from the
/// training captions: deterministic, so every process learns the same), the
/// student (preset + tokenizer vocabulary, initialised from `seed`), the
/// teacher (a frozen model directory, or a preset initialised from a seed
/// and optionally pre-trained on the spot), the sampler, the batch source,
/// the schedule and the run's identity (`configDigest`).
public final class RunComponents {
    /// How the teacher is made.
    public enum TeacherMode: Sendable, Equatable {
        /// As the config says, pre-training an `init:` teacher when it asks.
        case build
        /// A directory teacher is loaded; an `init:` teacher is built and
        /// initialised from its seed but not pre-trained: its final weights
        /// come from the coordinator (`teacherAwaitsWeights`).
        case awaitWeights
    }

    public let config: TrainingConfig
    public let pairs: TrainingPairs
    public let tokenizer: CLIPTokenizer
    /// The student's config, with the tokenizer's vocabulary.
    public let studentConfig: CLIPConfig
    /// The student, initialised from the config's seed.
    public let student: CLIPModel
    public let studentInputs: TowerInputs
    public let sampler: DeterministicSampler
    public let totalSteps: Int
    /// The frozen teacher, when some loss term needs one.
    /// Where the teacher's embeddings come from, when some loss term needs
    /// them: the frozen teacher model, or its teacher-embedding cache.
    public let teacher: TeacherEmbeddingSource?
    /// The teacher model when it runs (nil without a teacher or with a cache).
    public let teacherModel: CLIPModel?
    /// Whether the teacher's weights must still be loaded (`.awaitWeights` and an `init:` teacher).
    public let teacherAwaitsWeights: Bool
    /// SHA-256 of the config's canonical text and what it resolved to (the run's identity).
    public let configDigest: String
    public let batchSource: DatasetBatchSource
    /// Files copied into every checkpoint and the final directory (tokenizer files, preprocessor_config.json).
    public let extraFiles: [String]
    public let schedule: LearningRateSchedule
    public let optimizer: AdamWConfig
    /// Lines describing the set-up (data, models, steps).
    public let summary: [String]

    /// Validates the config, creates the run directory and copies the config file into it.
    public static func prepareRunDirectory(config: TrainingConfig, path: String) throws(TrainingError) -> RunDirectory {
        do { try config.validate() } catch { throw .config(error) }
        let run = RunDirectory(path: path)
        try run.create()
        if FileManager.default.fileExists(atPath: config.source) {
            try? FileManager.default.removeItem(atPath: run.path + "/config.yaml")
            try? FileManager.default.copyItem(atPath: config.source, toPath: run.path + "/config.yaml")
        }
        return run
    }

    /// Builds the components; files the run makes (a learnt tokenizer,
    /// preprocessor_config.json, a pre-trained teacher) go into
    /// `workDirectory`. `say` receives the summary lines as they become known.
    public init(config: TrainingConfig, workDirectory: String, teacherMode: TeacherMode,
                say: (String) -> Void = { _ in }) throws(TrainingError) {
        do { try config.validate() } catch { throw .config(error) }
        self.config = config
        var lines: [String] = []
        func note(_ line: String) { lines.append(line); say(line) }
        do {
            try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        } catch {
            throw .io(path: workDirectory, reason: "cannot create: \((error as NSError).localizedDescription)")
        }
        let run = RunDirectory(path: workDirectory)

        // Data.
        let pairs = try TrainingPairs.open(config.data)
        self.pairs = pairs
        note("data: \(pairs.count) pairs from \(pairs.name)")
        if let skipped = pairs.skippedSummary { note("data: \(skipped)") }

        // Student preset, tokenizer, student.
        var studentConfig: CLIPConfig
        do { studentConfig = try ModelPreset.load(path: config.model) } catch { throw .data("model preset: \(error)") }
        let (tokenizer, tokenizerFiles) = try TrainingSession.tokenizer(config: config, pairs: pairs, run: run,
                                                                         contextLength: studentConfig.textConfig.maxPositionEmbeddings)
        self.tokenizer = tokenizer
        try TrainingSession.adopt(tokenizer, into: &studentConfig, source: config.model)
        self.studentConfig = studentConfig
        let student: CLIPModel
        do { student = try CLIPModel(config: studentConfig) } catch { throw .model(error) }
        student.initialize(seed: config.seed)
        self.student = student
        note("\(config.teacher == nil ? "model" : "student"): \(config.model), \(student.parameters.count) parameters, vocabulary \(tokenizer.vocabularySize)")

        let studentSettings = ImageProcessorSettings(imageSize: studentConfig.visionConfig.imageSize)
        let preprocessorPath = run.path + "/" + ImageProcessorSettings.fileName
        do {
            try Data(studentSettings.huggingFaceJSON().utf8).write(to: URL(fileURLWithPath: preprocessorPath), options: .atomic)
        } catch {
            throw .io(path: preprocessorPath, reason: "cannot write: \((error as NSError).localizedDescription)")
        }
        extraFiles = tokenizerFiles + [preprocessorPath]
        let studentInputs = TowerInputs(preprocessor: try TrainingSession.preprocessor(studentSettings), tokenizer: tokenizer,
                                        contextLength: studentConfig.textConfig.maxPositionEmbeddings)
        self.studentInputs = studentInputs

        // Sampler and length.
        let sampler: DeterministicSampler
        do {
            sampler = try DeterministicSampler(recordCount: pairs.count, batchSize: config.batchSize,
                                               microShards: config.microShards, seed: config.seed)
        } catch { throw .data(error.description) }
        self.sampler = sampler
        let totalSteps: Int
        do { totalSteps = try config.totalSteps(trainingPairs: pairs.count) } catch { throw .config(error) }
        self.totalSteps = totalSteps

        // Teacher (only when some term needs it).
        var teacher: TeacherEmbeddingSource?
        var teacherModel: CLIPModel?
        var teacherPixels: CLIPImagePreprocessor?
        var teacherTokens: (tokenizer: CLIPTokenizer, contextLength: Int)?
        var teacherDescription = "none"
        var awaits = false
        if let cacheConfig = config.teacherCache, case let .directory(path) = config.teacher, !config.loss.terms.isEmpty {
            // The teacher's embeddings come from the memory-mapped cache: no
            // teacher forward and no teacher inputs in the batches.
            let cached = try TrainingSession.cachedTeacher(cacheConfig, teacherPath: path, config: config, pairs: pairs, say: say)
            guard cached.teacher.embeddingWidth == studentConfig.projectionDim else {
                throw .teacher("the teacher cache \(cacheConfig.path) holds \(cached.teacher.embeddingWidth)-wide embeddings but the "
                    + "student projects to \(studentConfig.projectionDim); their projection_dim must match")
            }
            teacher = cached.teacher
            teacherDescription = cached.description
            note("teacher: \(path) (\(cached.parameterCount) parameters), embeddings read from the cache \(cacheConfig.path) "
                + "(\(cached.teacher.cache.count) records, not run during training)")
        } else if let spec = config.teacher, !config.loss.terms.isEmpty {
            var buildSpec = spec
            if teacherMode == .awaitWeights, case let .initialized(preset, seed, pretrain) = spec {
                buildSpec = .initialized(preset: preset, seed: seed, pretrainSteps: 0)
                awaits = pretrain > 0
            }
            var made = try TrainingSession.teacher(buildSpec, config: config, tokenizer: tokenizer, pairs: pairs, run: run,
                                                   tokenizerFiles: tokenizerFiles, preprocessorPath: preprocessorPath, say: say)
            if buildSpec != spec, case let .initialized(preset, seed, pretrain) = spec {
                made.description = "\(preset) seed \(seed), \(pretrain) pre-training steps"
            }
            teacher = FrozenTeacher(model: made.model)
            teacherModel = made.model
            teacherDescription = made.description
            let teacherSettings = made.settings
            if teacherSettings != studentSettings { teacherPixels = try TrainingSession.preprocessor(teacherSettings) }
            let teacherContext = made.model.config.textConfig.maxPositionEmbeddings
            if made.tokenizer !== tokenizer || teacherContext != studentInputs.contextLength {
                teacherTokens = (made.tokenizer, teacherContext)
            }
            note("teacher: \(made.description), \(made.model.parameters.count) parameters")
        }
        self.teacher = teacher
        self.teacherModel = teacherModel
        teacherAwaitsWeights = awaits

        // Identity of the run: the config's canonical text plus what it resolved to.
        let identity = config.canonicalText + "student=" + studentConfig.huggingFaceJSON() + "teacher=" + teacherDescription
        configDigest = SHA256.hash(data: Data(identity.utf8)).map { String(format: "%02x", $0) }.joined()

        do { optimizer = try config.optimizer.adamW() } catch { throw .optimizer(error) }
        schedule = try TrainingSession.schedule(config, totalSteps: totalSteps)
        batchSource = DatasetBatchSource(pairs: pairs, sampler: sampler, student: studentInputs,
                                         teacherPixels: teacherPixels, teacherTokens: teacherTokens)
        note("training: \(totalSteps) steps of \(config.batchSize) pairs in \(config.microShards) micro-shard(s), "
            + "loss: task x \(config.loss.taskWeight)"
            + config.loss.terms.map { " + \($0.description)" }.joined()
            + (config.loss.shardLocalNegatives ? " (shard-local negatives)" : ""))
        summary = lines
    }
}

extension TrainingSession {
    // MARK: - Pieces

    /// The run's tokenizer and its files (copied into every checkpoint).
    static func tokenizer(config: TrainingConfig, pairs: TrainingPairs, run: RunDirectory,
                          contextLength: Int) throws(TrainingError) -> (CLIPTokenizer, [String]) {
        switch config.effectiveTokenizer {
        case let .directory(path):
            do {
                let tokenizer = try CLIPTokenizer(directory: URL(fileURLWithPath: path))
                return (tokenizer, CheckpointDirectory(path: path).tokenizerFiles)
            } catch {
                throw .data("tokenizer \(path): \(error)")
            }
        case let .learn(size):
            // Deterministic in the captions, so learning it again on resume gives the same files.
            let directory = run.path + "/tokenizer"
            do {
                let vocabulary = try BPETrainer(vocabularySize: size, contextLength: contextLength).train(pairs.captions)
                try vocabulary.write(to: URL(fileURLWithPath: directory))
                let tokenizer = try CLIPTokenizer(directory: URL(fileURLWithPath: directory))
                return (tokenizer, CheckpointDirectory(path: directory).tokenizerFiles)
            } catch {
                throw .data("learning a tokenizer from the training captions: \(error)")
            }
        }
    }

    /// Replaces a preset's placeholder vocabulary size and special ids with the tokenizer's.
    public static func adopt(_ tokenizer: CLIPTokenizer, into config: inout CLIPConfig, source: String) throws(TrainingError) {
        config.textConfig.vocabSize = tokenizer.vocabularySize
        config.textConfig.bosTokenId = Int(tokenizer.bosTokenId)
        config.textConfig.eosTokenId = Int(tokenizer.eosTokenId)
        config.textConfig.padTokenId = Int(tokenizer.padTokenId)
        do { try config.validate(source: source) } catch { throw .data("model preset: \(error)") }
    }

    static func preprocessor(_ settings: ImageProcessorSettings) throws(TrainingError) -> CLIPImagePreprocessor {
        do { return try settings.preprocessor() } catch { throw .data("image preprocessing: \(error)") }
    }

    static func schedule(_ config: TrainingConfig, totalSteps: Int) throws(TrainingError) -> LearningRateSchedule {
        let o = config.optimizer
        guard o.warmupSteps <= totalSteps else {
            throw .config(.invalidValue(source: config.source, key: "optimizer.warmup_steps",
                                        reason: "\(o.warmupSteps) warmup steps exceed the run's \(totalSteps) steps"))
        }
        do {
            return try LearningRateSchedule(lr: o.lr, warmupSteps: o.warmupSteps, totalSteps: totalSteps, minLR: o.minLR)
        } catch { throw .schedule(error) }
    }

    /// Opens, or under `on_stale: rebuild` builds, the teacher cache `config`
    /// names for its training `pairs`, exactly as a session does before step
    /// 1 (refusing a missing, corrupt or stale file under `refuse`); nil when
    /// the config reads no cache. Lets a caller that starts several runs at
    /// once (`conaclip ablate --jobs N`) build the shared file once, first.
    public static func prepareTeacherCache(for config: TrainingConfig, pairs: TrainingPairs,
                                           say: (String) -> Void = { _ in }) throws(TrainingError) -> TeacherEmbeddingCache? {
        guard let cacheConfig = config.teacherCache, case let .directory(path) = config.teacher,
              !config.loss.terms.isEmpty else { return nil }
        return try cachedTeacher(cacheConfig, teacherPath: path, config: config, pairs: pairs, say: say).teacher.cache
    }

    /// A teacher-embedding cache opened for the run's dataset.
    struct OpenedCache {
        var teacher: CachedTeacher
        /// Same form as a directory teacher's description (part of the run's digest).
        var description: String
        var parameterCount: Int
    }

    /// Opens (or, under `on_stale: rebuild`, builds) the cache of the
    /// teacher directory's embeddings of the training pairs, refusing a
    /// missing, corrupt or stale file under `refuse`. The teacher model is
    /// loaded to compute its digests (the cache's key) and released.
    static func cachedTeacher(_ cacheConfig: TeacherCacheConfig, teacherPath: String, config: TrainingConfig,
                              pairs: TrainingPairs, say: (String) -> Void) throws(TrainingError) -> OpenedCache {
        guard case let .dataset(dataset) = pairs, case let .manifest(dataPath, split, _) = config.data else {
            throw .config(.invalidValue(source: config.source, key: "teacher_cache",
                                        reason: "a teacher cache needs manifest data (data.manifest)"))
        }
        do {
            let embedder = try TeacherEmbedder(directory: teacherPath)
            let digest = try dataset.datasetDigest()
            if cacheConfig.onStale == .rebuild && !FileManager.default.fileExists(atPath: cacheConfig.path) {
                say("teacher cache \(cacheConfig.path) does not exist; building it (on_stale: rebuild)")
            }
            let cache = try TeacherEmbeddingCache.open(config: cacheConfig, teacher: embedder, dataset: dataset,
                                                       datasetDigest: digest, dataPath: dataPath, split: split)
            let description = "\(teacherPath) (sha256 \(ParameterDigest.sha256(of: embedder.model.parameters).prefix(16)))"
            return OpenedCache(teacher: CachedTeacher(cache: cache), description: description,
                               parameterCount: embedder.model.parameters.count)
        } catch let error as TeacherCacheError {
            throw .teacher("teacher_cache: \(error)")
        } catch {
            throw .data("teacher_cache: \(error)")
        }
    }

    /// A frozen teacher: its model, its tokenizer and its image settings.
    struct MadeTeacher {
        var model: CLIPModel
        var tokenizer: CLIPTokenizer
        var settings: ImageProcessorSettings
        var description: String
    }

    static func teacher(_ spec: TrainingConfig.Teacher, config: TrainingConfig, tokenizer: CLIPTokenizer,
                        pairs: TrainingPairs, run: RunDirectory, tokenizerFiles: [String], preprocessorPath: String,
                        say: (String) -> Void) throws(TrainingError) -> MadeTeacher {
        switch spec {
        case let .directory(path):
            let directory = CheckpointDirectory(path: path)
            let model: CLIPModel
            do {
                model = try CLIPModel(config: try directory.readConfig())
                try directory.loadWeights(into: model.parameters)
            } catch {
                throw .teacher("cannot load \(path): \(error)")
            }
            // The teacher reads captions with its own tokenizer when it has one.
            var teacherTokenizer = tokenizer
            if case let .directory(tokenizerPath) = config.effectiveTokenizer, tokenizerPath == path {
                teacherTokenizer = tokenizer
            } else if FileManager.default.fileExists(atPath: path + "/vocab.json") {
                do { teacherTokenizer = try CLIPTokenizer(directory: URL(fileURLWithPath: path)) } catch {
                    throw .teacher("cannot load the tokenizer of \(path): \(error)")
                }
            }
            guard teacherTokenizer.vocabularySize <= model.config.textConfig.vocabSize else {
                throw .teacher("\(path): the tokenizer has \(teacherTokenizer.vocabularySize) tokens but the text tower "
                    + "only \(model.config.textConfig.vocabSize)")
            }
            let settings: ImageProcessorSettings
            do { settings = try ImageProcessorSettings(directory: path, imageSize: model.config.visionConfig.imageSize) } catch {
                throw .teacher(error.description)
            }
            return MadeTeacher(model: model, tokenizer: teacherTokenizer, settings: settings,
                               description: "\(path) (sha256 \(ParameterDigest.sha256(of: model.parameters).prefix(16)))")
        case let .initialized(preset, seed, pretrainSteps):
            var teacherConfig: CLIPConfig
            do { teacherConfig = try ModelPreset.load(path: preset) } catch { throw .teacher("preset: \(error)") }
            try adopt(tokenizer, into: &teacherConfig, source: preset)
            let model: CLIPModel
            do { model = try CLIPModel(config: teacherConfig) } catch { throw .model(error) }
            model.initialize(seed: seed)
            let settings = ImageProcessorSettings(imageSize: teacherConfig.visionConfig.imageSize)
            if pretrainSteps > 0 {
                try pretrain(model, steps: pretrainSteps, seed: seed, settings: settings, tokenizer: tokenizer,
                             config: config, pairs: pairs, say: say)
                // Kept for inspection; it is re-made identically on resume.
                do {
                    try CheckpointDirectory.write(to: run.path + "/teacher", config: teacherConfig, store: model.parameters,
                                                  copying: tokenizerFiles, replaceExisting: true)
                } catch { throw .checkpoint("cannot write the pre-trained teacher: \(error)") }
            }
            return MadeTeacher(model: model, tokenizer: tokenizer, settings: settings,
                               description: "\(preset) seed \(seed), \(pretrainSteps) pre-training steps")
        }
    }

    /// Plain CLIP training of a freshly initialised teacher on the run's
    /// pairs, with the run's batch size, micro-shards and optimiser, a
    /// schedule over `steps` and a sample order seeded by the teacher's seed.
    static func pretrain(_ model: CLIPModel, steps: Int, seed: UInt64, settings: ImageProcessorSettings,
                         tokenizer: CLIPTokenizer, config: TrainingConfig, pairs: TrainingPairs,
                         say: (String) -> Void) throws(TrainingError) {
        let sampler: DeterministicSampler
        do {
            sampler = try DeterministicSampler(recordCount: pairs.count, batchSize: config.batchSize,
                                               microShards: config.microShards, seed: seed)
        } catch { throw .data(error.description) }
        let inputs = TowerInputs(preprocessor: try preprocessor(settings), tokenizer: tokenizer,
                                 contextLength: model.config.textConfig.maxPositionEmbeddings)
        let source = DatasetBatchSource(pairs: pairs, sampler: sampler, student: inputs)
        let optimizer: AdamWConfig
        do { optimizer = try config.optimizer.adamW() } catch { throw .optimizer(error) }
        let step = try DistillationStep(student: model, teacher: nil, terms: [], taskWeight: 1, microShards: config.microShards,
                                        optimizer: optimizer, maxGradientNorm: config.optimizer.maxGradNorm)
        let o = config.optimizer
        let schedule: LearningRateSchedule
        do {
            schedule = try LearningRateSchedule(lr: o.lr, warmupSteps: min(o.warmupSteps, steps), totalSteps: steps, minLR: o.minLR)
        } catch { throw .schedule(error) }
        let batch = TrainingBatch()
        var first = 0.0, last = 0.0
        for s in 0..<steps {
            try source.fill(batch, step: s, batchSize: config.batchSize)
            let outcome = try step.step(batch, stepIndex: s, learningRate: schedule.learningRate(atStep: s))
            if s == 0 { first = outcome.losses.task }
            last = outcome.losses.task
        }
        say(String(format: "teacher pre-trained for %d steps: CLIP loss %.4f -> %.4f", steps, first, last))
    }
}
