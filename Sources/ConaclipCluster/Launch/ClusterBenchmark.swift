import Foundation
import Logging

/// Measures distributed training on this machine: the same ConaCLIP
/// distillation run with 1, 2, ... local workers (`LocalLauncher`, real
/// processes over CURVE on loopback), with the teacher computed on the fly
/// and read from a teacher-embedding cache, reporting pairs/s (and the ratio
/// to the first worker count, measured in the same run) and where each
/// step's time went (compute / communication / waiting, from metrics.jsonl).
/// Backs `conaclip bench cluster`.
public enum ClusterBenchmark {
    public struct Options {
        /// The `conaclip` executable.
        public var executable: String
        public var studentPreset: String
        public var teacherPreset: String
        public var workerCounts: [Int]
        /// Teacher cache settings to measure (false = teacher forward passes, true = cache).
        public var cacheSettings: [Bool]
        public var batchSize: Int
        public var microShards: Int
        /// Timed steps (after the warm-up ones).
        public var steps: Int
        public var warmup: Int
        /// Synthetic pairs written as the benchmark's dataset.
        public var pairs: Int
        /// Rounds: each measures every worker count back to back; the
        /// figures are medians over the rounds (the host's speed drifts).
        public var repeats: Int = 1
        public var logger: Logger
        public var say: (String) -> Void

        public init(executable: String, studentPreset: String, teacherPreset: String, workerCounts: [Int], cacheSettings: [Bool],
                    batchSize: Int, microShards: Int, steps: Int, warmup: Int, pairs: Int, logger: Logger, say: @escaping (String) -> Void) {
            self.executable = executable; self.studentPreset = studentPreset; self.teacherPreset = teacherPreset
            self.workerCounts = workerCounts; self.cacheSettings = cacheSettings; self.batchSize = batchSize
            self.microShards = microShards; self.steps = steps; self.warmup = warmup; self.pairs = pairs
            self.logger = logger; self.say = say
        }
    }

    /// One configuration's measurement (means over the timed steps; pairs/s from the median step).
    public struct Measurement: Codable, Sendable {
        public var workers: Int
        public var teacherCache: Bool
        public var pairsPerSecond: Double
        public var medianStepSeconds: Double
        public var computeSeconds: Double
        public var communicationSeconds: Double
        public var waitingSeconds: Double
        /// communication / step time.
        public var communicationFraction: Double
        public var bytesPerStep: Double
        /// pairs/s over the first worker count's with the same cache
        /// setting, measured in the same round; the median over rounds.
        public var speedup: Double
        /// The smallest and largest speed-up of the rounds.
        public var speedupRange: [Double] = [1, 1]
        /// Rounds measured.
        public var rounds: Int = 1
    }

    public struct Report: Codable, Sendable {
        public var studentPreset: String
        public var teacherPreset: String
        public var batchSize: Int
        public var microShards: Int
        public var steps: Int
        public var warmup: Int
        public var blasCore: String
        public var processorCount: Int
        public var measurements: [Measurement]
    }

    public static func run(_ options: Options) throws -> Report {
        var template = Array((NSTemporaryDirectory() + "/conaclip-bench-cluster-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }) else {
            throw ClusterError.setup("cannot create a temporary directory: \(String(cString: strerror(errno)))")
        }
        let root = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (manifest, teacher, cache) = try prepare(in: root, options: options)
        var measurements: [Measurement] = []
        let rounds = max(1, options.repeats)
        for cached in options.cacheSettings {
            // rounds[r][i]: worker count i in round r; a round measures every count back to back.
            var byRound: [[Measurement]] = []
            for round in 0..<rounds {
                var row: [Measurement] = []
                for workers in options.workerCounts {
                    options.say("bench cluster: \(workers) worker(s), teacher \(cached ? "cache" : "forward passes")"
                        + (rounds > 1 ? ", round \(round + 1) of \(rounds)" : ""))
                    var measurement = try measure(workers: workers, cached: cached, round: round, root: root, manifest: manifest,
                                                  teacher: teacher, cache: cache, options: options)
                    measurement.speedup = measurement.pairsPerSecond / (row.first?.pairsPerSecond ?? measurement.pairsPerSecond)
                    row.append(measurement)
                }
                byRound.append(row)
            }
            for index in options.workerCounts.indices {
                measurements.append(combine(byRound.map { $0[index] }))
            }
        }
        return Report(studentPreset: options.studentPreset, teacherPreset: options.teacherPreset, batchSize: options.batchSize,
                      microShards: options.microShards, steps: options.steps, warmup: options.warmup, blasCore: BLAS.coreName,
                      processorCount: ProcessInfo.processInfo.activeProcessorCount, measurements: measurements)
    }

    /// One configuration over several rounds: the medians of its figures
    /// (each taken alone), and the range of its per-round speed-ups.
    static func combine(_ rounds: [Measurement]) -> Measurement {
        precondition(!rounds.isEmpty, "combine needs at least one round")
        var combined = rounds[0]
        guard rounds.count > 1 else { return combined }
        func median(_ key: KeyPath<Measurement, Double>) -> Double {
            let sorted = rounds.map { $0[keyPath: key] }.sorted()
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        combined.pairsPerSecond = median(\.pairsPerSecond)
        combined.medianStepSeconds = median(\.medianStepSeconds)
        combined.computeSeconds = median(\.computeSeconds)
        combined.communicationSeconds = median(\.communicationSeconds)
        combined.waitingSeconds = median(\.waitingSeconds)
        combined.communicationFraction = median(\.communicationFraction)
        combined.bytesPerStep = median(\.bytesPerStep)
        combined.speedup = median(\.speedup)
        combined.speedupRange = [rounds.map(\.speedup).min() ?? 1, rounds.map(\.speedup).max() ?? 1]
        combined.rounds = rounds.count
        return combined
    }

    /// Writes the dataset (synthetic shapes as PNG files and a JSONL
    /// manifest), a teacher directory (the teacher preset initialised from a
    /// seed, with a tokenizer learnt from the captions) and its
    /// teacher-embedding cache.
    static func prepare(in root: String, options: Options) throws -> (manifest: String, teacher: String, cache: String) {
        var studentConfig = try ModelPreset.load(path: options.studentPreset)
        let shapes = SyntheticShapes(pairs: options.pairs, seed: 0, imageSize: studentConfig.visionConfig.imageSize)
        let images = root + "/images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        var manifest = ""
        for index in 0..<shapes.pairs {
            let name = String(format: "%05d.png", index)
            try Data(try PNGCodec.encode(shapes.image(at: index))).write(to: URL(fileURLWithPath: images + "/" + name))
            manifest += "{\"id\": \"\(index)\", \"image\": \"images/\(name)\", \"caption\": \"\(shapes.caption(at: index))\"}\n"
        }
        let manifestPath = root + "/manifest.jsonl"
        try Data(manifest.utf8).write(to: URL(fileURLWithPath: manifestPath))

        var teacherConfig = try ModelPreset.load(path: options.teacherPreset)
        let vocabulary = try BPETrainer(vocabularySize: 1000, contextLength: teacherConfig.textConfig.maxPositionEmbeddings)
            .train((0..<shapes.pairs).map(shapes.caption(at:)))
        let tokenizerDirectory = root + "/tokenizer"
        try vocabulary.write(to: URL(fileURLWithPath: tokenizerDirectory))
        let tokenizer = try CLIPTokenizer(directory: URL(fileURLWithPath: tokenizerDirectory))
        try TrainingSession.adopt(tokenizer, into: &teacherConfig, source: options.teacherPreset)
        try TrainingSession.adopt(tokenizer, into: &studentConfig, source: options.studentPreset)
        let teacher = try CLIPModel(config: teacherConfig)
        teacher.initialize(seed: 1)
        let preprocessor = root + "/" + ImageProcessorSettings.fileName
        try Data(ImageProcessorSettings(imageSize: teacherConfig.visionConfig.imageSize).huggingFaceJSON().utf8)
            .write(to: URL(fileURLWithPath: preprocessor))
        let teacherPath = root + "/teacher"
        try CheckpointDirectory.write(to: teacherPath, config: teacherConfig, store: teacher.parameters,
                                      copying: CheckpointDirectory(path: tokenizerDirectory).tokenizerFiles + [preprocessor])

        let cachePath = root + "/teacher.cache"
        if options.cacheSettings.contains(true) {
            options.say("bench cluster: building the teacher-embedding cache of \(shapes.pairs) pairs")
            let dataset = try DatasetReader.open(path: manifestPath, options: DatasetOptions())
            try TeacherCacheBuilder.write(
                teacher: try TeacherEmbedder(directory: teacherPath), dataset: dataset, datasetDigest: try dataset.datasetDigest(),
                to: cachePath, source: TeacherCacheSource(teacherPath: teacherPath, dataPath: manifestPath, split: nil,
                                                          chunkSize: TeacherEmbedder.chunkSize, blasCore: BLAS.coreName))
        }
        return (manifestPath, teacherPath, cachePath)
    }

    static func measure(workers: Int, cached: Bool, round: Int, root: String, manifest: String, teacher: String, cache: String,
                        options: Options) throws -> Measurement {
        let name = "w\(workers)-\(cached ? "cache" : "forward")-r\(round + 1)"
        let configPath = root + "/\(name).yaml"
        let out = root + "/\(name)"
        let studentPath = URL(fileURLWithPath: options.studentPreset).standardizedFileURL.path
        var yaml = """
        model: \(studentPath)
        teacher: \(teacher)
        data: {manifest: \(manifest), split: all}
        batch_size: \(options.batchSize)
        micro_shards: \(options.microShards)
        steps: \(options.warmup + options.steps)
        seed: 0
        loss:
          terms: [intra-ts:infonce:0.07, intra-ts:fd:1, intra-ts:sym-sd:1, intra-ss:sd:1, inter-ts:sym-kl:0.07, inter-ss:kl:0.07]
        checkpoint: {every_steps: 0, keep_last: 1}
        log: {every_steps: 1}
        cluster: {heartbeat_interval: 1, dead_after: 60, straggler_min_seconds: 60}

        """
        if cached { yaml += "teacher_cache: {path: \(cache), verify_payload: false}\n" }
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: configPath))
        var launchOptions = LocalLaunchOptions(
            executable: options.executable, workers: workers, configPath: configPath, outputDirectory: out, resume: false,
            minWorkers: workers, progress: "none", stopSignal: { 0 }, logger: options.logger, say: options.say)
        launchOptions.quiet = true
        let status = try LocalLauncher(options: launchOptions).run()
        guard status == 0 else { throw ClusterError.setup("the \(name) run failed with status \(status)") }

        let text = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8)
        let steps = text.split(separator: "\n").compactMap { line -> [String: Any]? in
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                  object["event"] == nil, let step = object["step"] as? Int, step > options.warmup else { return nil }
            return object
        }
        guard !steps.isEmpty else { throw ClusterError.setup("the \(name) run logged no timed step") }
        func values(_ key: String) -> [Double] { steps.compactMap { ($0[key] as? NSNumber)?.doubleValue } }
        func mean(_ key: String) -> Double { let v = values(key); return v.reduce(0, +) / Double(max(1, v.count)) }
        let times = values("step_time").sorted()
        let median = times[times.count / 2]
        let bytes = values("bytes_sent").reduce(0, +) + values("bytes_received").reduce(0, +)
        return Measurement(workers: workers, teacherCache: cached, pairsPerSecond: Double(options.batchSize) / median,
                           medianStepSeconds: median, computeSeconds: mean("compute_time"),
                           communicationSeconds: mean("communication_time"), waitingSeconds: mean("waiting_time"),
                           communicationFraction: mean("communication_time") / max(1e-9, mean("step_time")),
                           bytesPerStep: bytes / Double(steps.count), speedup: 1)
    }
}
