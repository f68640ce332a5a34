import ArgumentParser
import ConaclipCluster
import Foundation

/// `conaclip bench`: benchmark commands that print speed as ratios against a
/// baseline measured in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks, each reported against a baseline measured in the same run.",
        subcommands: [TrainStepBench.self, DataBench.self, DistillBench.self, TransportBench.self, ClusterBench.self])
}

/// `conaclip bench train-step`: times forward + backward + AdamW of the CLIP
/// contrastive loss on random data, next to this process's SGEMM peak.
struct TrainStepBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-step",
        abstract: "Time one CLIP training step (forward, loss, backward, AdamW) on random data.")

    @Option(help: "Model preset (YAML in configs/models/) or a model directory with config.json.")
    var model: String

    @Option(help: "Pairs per step.")
    var batch = 128

    @Option(help: "BLAS threads for this process.")
    var threads = 1

    @Option(help: "Timed steps (the median is reported).")
    var steps = 5

    @Option(help: "Untimed warm-up steps.")
    var warmup = 2

    @Option(help: "Seed for the weights and the random batch.")
    var seed: UInt64 = 0

    @Option(help: "Also write the benchmarked model (Hugging Face layout) to this directory, so a peer framework can time the identical model.")
    var saveModel: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
        guard threads > 0 else { throw ValidationError("--threads must be positive") }
        guard steps > 0, warmup >= 0 else { throw ValidationError("--steps must be positive and --warmup non-negative") }
    }

    func run() throws {
        BLAS.setThreads(threads)
        let config = try ModelSource.config(from: model)
        let report = try Self.measure(model: model, config: config, batch: batch, threads: threads, steps: steps,
                                      warmup: warmup, seed: seed, saveModel: saveModel)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print("model:               \(report.model) (\(report.parameters) parameters)")
            print("batch / threads:     \(batch) / \(threads) (BLAS core \(report.blasCore))")
            print(String(format: "step (median of %d):  %.4f s  = %.1f pairs/s", steps, report.stepSeconds, report.pairsPerSecond))
            print(String(format: "  forward %.4f  loss %.4f  backward %.4f  optimizer %.4f",
                         report.forwardSeconds, report.lossSeconds, report.backwardSeconds, report.optimizerSeconds))
            print(String(format: "achieved:            %.1f GFLOP/s = %.0f%% of this run's SGEMM peak (%.1f GFLOP/s)",
                         report.achievedGFLOPS, 100 * report.fractionOfSGEMMPeak, report.sgemmGFLOPS))
        }
    }

    /// Times `warmup + steps` CLIP training steps of a model made from
    /// `config` on a random batch and reports the median step; BLAS threads
    /// must already be set to `threads`.
    static func measure(model: String, config: CLIPConfig, batch: Int, threads: Int, steps: Int, warmup: Int,
                        seed: UInt64, saveModel: String? = nil) throws -> TrainStepReport {
        let clip = try CLIPModel(config: config)
        clip.initialize(seed: seed)
        if let directory = saveModel {
            try CheckpointDirectory.write(to: directory, config: config, store: clip.parameters, replaceExisting: true)
        }
        let batchData = RandomBatch(config: config, batch: batch, seed: seed)
        let trainer = CLIPTrainingStep(model: clip, optimizer: try AdamWConfig(weightDecay: 0.1))
        var timings: [CLIPTrainingStep.Timing] = []
        var lastLoss: Float = 0
        for i in 0..<(warmup + steps) {
            let outcome = try batchData.pixels.withUnsafeBufferPointer { pixels in
                try batchData.ids.withUnsafeBufferPointer { ids in
                    try trainer.step(pixels: pixels, ids: ids, batch: batch, learningRate: 1e-4)
                }
            }
            if i >= warmup { timings.append(outcome.timing) }
            lastLoss = outcome.loss
        }
        let sgemm = SGEMMProbe.measure(size: 1024)
        let median = timings.sorted { $0.total < $1.total }[timings.count / 2]
        // Matrix-product FLOPs: forward, plus about twice that for backward.
        let flopsPerStep = 3 * Double(batch) * Double(clip.forwardFLOPsPerImage + clip.forwardFLOPsPerText)
        let achieved = flopsPerStep / median.total / 1e9
        let report = TrainStepReport(
            model: model, parameters: clip.parameters.count, batch: batch, threads: threads,
            blasCore: BLAS.coreName, steps: steps,
            stepSeconds: median.total, pairsPerSecond: Double(batch) / median.total,
            forwardSeconds: median.forward, lossSeconds: median.loss,
            backwardSeconds: median.backward, optimizerSeconds: median.optimizer,
            flopsPerStep: flopsPerStep, achievedGFLOPS: achieved, sgemmGFLOPS: sgemm,
            fractionOfSGEMMPeak: achieved / sgemm, finalLoss: Double(lastLoss))
        return report
    }
}

struct TrainStepReport: Codable {
    var model: String
    var parameters: Int
    var batch: Int
    var threads: Int
    var blasCore: String
    var steps: Int
    var stepSeconds: Double
    var pairsPerSecond: Double
    var forwardSeconds: Double
    var lossSeconds: Double
    var backwardSeconds: Double
    var optimizerSeconds: Double
    var flopsPerStep: Double
    var achievedGFLOPS: Double
    var sgemmGFLOPS: Double
    var fractionOfSGEMMPeak: Double
    var finalLoss: Double
}

/// Random preprocessed pixels and token rows for a model's input sizes: each
/// caption has a random length, ends with the end-of-text token and is padded.
struct RandomBatch {
    var pixels: [Float]
    var ids: [Int32]

    init(config: CLIPConfig, batch: Int, seed: UInt64) {
        var random = DeterministicRandom(seed: seed, stream: "bench-batch")
        let v = config.visionConfig, t = config.textConfig
        pixels = [Float](repeating: 0, count: batch * v.numChannels * v.imageSize * v.imageSize)
        pixels.withUnsafeMutableBufferPointer { buffer in
            if let base = buffer.baseAddress { random.fillNormal(base, count: buffer.count, std: 1) }
        }
        let context = t.maxPositionEmbeddings
        let special = Set([t.bosTokenId, t.eosTokenId, t.padTokenId])
        ids = [Int32](repeating: Int32(t.padTokenId), count: batch * context)
        for b in 0..<batch {
            let length = 2 + random.nextIndex(below: max(1, context - 2))
            ids[b * context] = Int32(t.bosTokenId)
            for p in 1..<length {
                var token = random.nextIndex(below: t.vocabSize)
                while special.contains(token) { token = random.nextIndex(below: t.vocabSize) }
                ids[b * context + p] = Int32(token)
            }
            ids[b * context + min(length, context - 1)] = Int32(t.eosTokenId)
        }
    }
}
