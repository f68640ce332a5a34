import Foundation

/// The single-process training loop: for each step, the batch source fills
/// the batch, the learning-rate schedule gives the rate, `DistillationStep`
/// applies the exact step; metrics are logged, checkpoints written every
/// `checkpointEvery` steps (and at the end or on interruption), and the
/// final model directory is written to `DIR/final`.
///
/// Because batches are a pure function of (seed, step), the optimiser state is
/// checkpointed exactly and each step is deterministic, a run resumed from
/// any checkpoint ends with bit-identical weights to one that never stopped.
public final class Trainer {
    /// Loop settings (from `TrainingConfig` once the data size is known).
    public struct Settings: Sendable {
        public var totalSteps: Int
        public var batchSize: Int
        /// Steps between checkpoints; 0 = only at the end or on interruption.
        public var checkpointEvery: Int
        public var keepLast: Int
        /// Steps between metrics lines.
        public var logEvery: Int
        /// SHA-256 identifying the config (stored in checkpoints).
        public var configDigest: String
        /// Stop (as if interrupted) once this many steps are done.
        public var stopAfterStep: Int?

        public init(totalSteps: Int, batchSize: Int, checkpointEvery: Int, keepLast: Int, logEvery: Int,
                    configDigest: String, stopAfterStep: Int? = nil) {
            self.totalSteps = totalSteps; self.batchSize = batchSize; self.checkpointEvery = checkpointEvery
            self.keepLast = keepLast; self.logEvery = logEvery; self.configDigest = configDigest
            self.stopAfterStep = stopAfterStep
        }
    }

    /// How a call to `run` ended.
    public enum Outcome: Sendable, Equatable {
        /// All steps done; the final model is in `finalDirectory`.
        /// `weightsDigest` is `ModelDigest` of the weights (what `conaclip
        /// checkpoint digest` prints); `parameterDigest` hashes the flat layout.
        case completed(steps: Int, finalDirectory: String, parameterDigest: String, weightsDigest: String)
        /// Stopped early (signal or `stopAfterStep`) after `steps` steps, with a checkpoint written.
        case stopped(steps: Int, checkpoint: String)
    }

    public let step: DistillationStep
    public let schedule: LearningRateSchedule
    public let source: TrainingBatchSource
    public let run: RunDirectory
    /// The student's config (written into every checkpoint).
    public let modelConfig: CLIPConfig
    /// Files copied into every checkpoint and the final directory (tokenizer files, preprocessor_config.json).
    public let extraFiles: [String]
    public let settings: Settings
    public let progress: ProgressDisplay
    private let batch = TrainingBatch()
    private var lastCheckpointStep: Int?

    public init(step: DistillationStep, schedule: LearningRateSchedule, source: TrainingBatchSource, run: RunDirectory,
                modelConfig: CLIPConfig, extraFiles: [String], settings: Settings, progress: ProgressDisplay) {
        self.step = step
        self.schedule = schedule
        self.source = source
        self.run = run
        self.modelConfig = modelConfig
        self.extraFiles = extraFiles
        self.settings = settings
        self.progress = progress
    }

    /// Restores the newest valid checkpoint of the run directory, if any,
    /// and returns the number of steps it had completed (0 without one).
    public func resume() throws(TrainingError) -> Int {
        let restored = try TrainingCheckpoint.restoreNewest(
            run: run, configDigest: settings.configDigest, store: step.student.parameters, optimizer: step.optimizer)
        for reason in restored.skipped { progress.message("warning: skipped checkpoint \(reason)") }
        guard let state = restored.state, let path = restored.path else { return 0 }
        lastCheckpointStep = state.step
        progress.message("resuming from \(path) (step \(state.step) of \(settings.totalSteps))")
        return state.step
    }

    /// Trains from `startStep` (0, or what `resume` returned). `shouldStop` is
    /// polled after every step; when it returns true the loop writes a
    /// checkpoint and returns `.stopped`.
    public func run(from startStep: Int, shouldStop: () -> Bool = { false }) throws(TrainingError) -> Outcome {
        let total = settings.totalSteps
        let metrics = try MetricsLog(path: run.metricsPath, keepingThrough: startStep)
        var done = startStep
        while done < total {
            var clock = StepClock()
            try source.fill(batch, step: done, batchSize: settings.batchSize)
            let dataTime = clock.lap()
            let learningRate = schedule.learningRate(atStep: done)
            let outcome = try step.step(batch, stepIndex: done, learningRate: learningRate)
            let stepTime = dataTime + clock.lap()
            done += 1

            let losses = outcome.losses
            let names = step.graph?.terms.map(\.description) ?? []
            let record = StepMetrics(
                step: done, total: losses.total, task: losses.task,
                terms: zip(names, losses.terms).map { (name: $0.0, value: $0.1) },
                learningRate: learningRate, gradientNorm: outcome.gradientNorm, logitScale: Double(losses.logitScale),
                stepTime: stepTime, dataTime: dataTime, pairsPerSecond: Double(batch.count) / max(stepTime, 1e-9))
            if done % max(1, settings.logEvery) == 0 || done == total || done == 1 {
                try metrics.append(record)
            }
            progress.update(step: done, metrics: record)

            if done < total {
                if settings.checkpointEvery > 0 && done % settings.checkpointEvery == 0 {
                    try checkpoint(done)
                }
                let stopRequested = shouldStop()
                if stopRequested || (settings.stopAfterStep.map { done >= $0 } ?? false) {
                    let path = try checkpoint(done)
                    return .stopped(steps: done, checkpoint: path)
                }
            }
        }
        try checkpoint(total)
        do {
            try CheckpointDirectory.write(to: run.finalPath, config: modelConfig, store: step.student.parameters,
                                          copying: extraFiles, replaceExisting: true)
        } catch {
            throw .checkpoint("cannot write the final model to \(run.finalPath): \(error)")
        }
        return .completed(steps: total, finalDirectory: run.finalPath,
                          parameterDigest: ParameterDigest.sha256(of: step.student.parameters),
                          weightsDigest: ModelDigest.sha256(of: step.student.parameters))
    }

    /// Writes the checkpoint of `steps` completed steps (once per step).
    @discardableResult
    private func checkpoint(_ steps: Int) throws(TrainingError) -> String {
        let path = run.checkpointPath(step: steps)
        if lastCheckpointStep == steps, FileManager.default.fileExists(atPath: path) { return path }
        try TrainingCheckpoint.write(
            run: run, step: steps, totalSteps: settings.totalSteps, batchSize: settings.batchSize,
            configDigest: settings.configDigest, config: modelConfig, store: step.student.parameters,
            optimizer: step.optimizer, extraFiles: extraFiles, keepLast: settings.keepLast)
        lastCheckpointStep = steps
        progress.message("checkpoint \(path)")
        return path
    }
}
