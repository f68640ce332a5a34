import Crypto
import Foundation

/// The files of one training run under its output directory:
///
///     DIR/metrics.jsonl                   one JSON line per logged step
///     DIR/checkpoints/step-000500/        model directory + training state
///     DIR/final/                          the final model directory
///
/// plus whatever the data side puts there (the learnt tokenizer, the
/// preprocessor config, a copy of the config).
public struct RunDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public var checkpointsPath: String { path + "/checkpoints" }
    public var finalPath: String { path + "/final" }
    public var metricsPath: String { path + "/metrics.jsonl" }

    /// `DIR/checkpoints/step-NNNNNN` (six digits, more when needed).
    public func checkpointPath(step: Int) -> String {
        let digits = String(step)
        return checkpointsPath + "/step-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// Steps of the checkpoint directories present (finished or not), ascending.
    /// Hidden staging directories are not listed.
    public func checkpointSteps() -> [Int] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: checkpointsPath) else { return [] }
        return names.compactMap { name -> Int? in
            guard name.hasPrefix("step-"), let step = Int(name.dropFirst(5)), step >= 0 else { return nil }
            return step
        }.sorted()
    }

    /// Creates the directory (and parents) if needed.
    public func create() throws(TrainingError) {
        do {
            try FileManager.default.createDirectory(atPath: checkpointsPath, withIntermediateDirectories: true)
        } catch {
            throw .io(path: checkpointsPath, reason: "cannot create the run directory: \((error as NSError).localizedDescription)")
        }
    }
}

/// The training state stored next to the weights in every checkpoint
/// (`training_state.json`); with `optimizer.safetensors` (AdamW's moments)
/// it is everything a resumed run needs to continue bit-exactly. The sample
/// order is a pure function of (seed, step), so the step is also the
/// sampler's position; no other random state exists during training.
public struct TrainingState: Codable, Sendable, Equatable {
    public static let formatName = "conaclip-training-state-1"
    public var format: String = TrainingState.formatName
    /// Optimiser steps completed.
    public var step: Int
    public var totalSteps: Int
    /// Pairs consumed so far (`step * batch_size`).
    public var samplesSeen: Int
    /// SHA-256 of the run's config (see `TrainingConfig.canonicalText`).
    public var configDigest: String
    /// SHA-256 of the parameter values (`ParameterDigest`).
    public var parameterSHA256: String
    /// SHA-256 of the bytes of `optimizer.safetensors`.
    public var optimizerSHA256: String
    /// AdamW's own step count (its bias corrections depend on it).
    public var optimizerStep: Int

    public init(step: Int, totalSteps: Int, samplesSeen: Int, configDigest: String,
                parameterSHA256: String, optimizerSHA256: String, optimizerStep: Int) {
        self.step = step; self.totalSteps = totalSteps; self.samplesSeen = samplesSeen
        self.configDigest = configDigest; self.parameterSHA256 = parameterSHA256
        self.optimizerSHA256 = optimizerSHA256; self.optimizerStep = optimizerStep
    }

    enum CodingKeys: String, CodingKey {
        case format, step, totalSteps = "total_steps", samplesSeen = "samples_seen", configDigest = "config_digest"
        case parameterSHA256 = "parameter_sha256", optimizerSHA256 = "optimizer_sha256", optimizerStep = "optimizer_step"
    }
}

/// Writes and restores training checkpoints: a Hugging Face model directory
/// (`CheckpointDirectory.write`: config.json, model.safetensors and the
/// given extra files such as tokenizer files and preprocessor_config.json)
/// plus `training_state.json` and `optimizer.safetensors`, all written into a
/// staging directory, fsynced and renamed in one step, so a checkpoint
/// directory is either complete or absent. The state carries SHA-256 digests
/// of the weights and the optimizer file; `restoreNewest` skips any
/// checkpoint whose digests do not match.
public enum TrainingCheckpoint {
    public static let stateFileName = "training_state.json"
    public static let optimizerFileName = "optimizer.safetensors"
    static let firstMomentName = "exp_avg"
    static let secondMomentName = "exp_avg_sq"

    /// Writes the checkpoint of `step` and deletes all but the newest `keepLast`.
    @discardableResult
    public static func write(
        run: RunDirectory, step: Int, totalSteps: Int, batchSize: Int, configDigest: String,
        config: CLIPConfig, store: ParameterStore, optimizer: AdamW, extraFiles: [String], keepLast: Int,
        beforeInstall: () -> Void = {}
    ) throws(TrainingError) -> String {
        try run.create()
        let target = run.checkpointPath(step: step)
        let staging = run.checkpointsPath + "/.state-\(step)-\(getpid())"
        try? FileManager.default.removeItem(atPath: staging)
        do {
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        } catch {
            throw .io(path: staging, reason: "cannot create: \((error as NSError).localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(atPath: staging) }

        let optimizerPath = staging + "/" + optimizerFileName
        var writer = SafeTensorsWriter(dtype: .float32, metadata: ["step": String(optimizer.stepCount)])
        writer.add(firstMomentName, shape: [store.count], buffer: optimizer.firstMoment, offset: 0)
        writer.add(secondMomentName, shape: [store.count], buffer: optimizer.secondMoment, offset: 0)
        do { try writer.write(to: optimizerPath) } catch { throw .checkpoint("cannot write \(optimizerPath): \(error)") }
        let state = TrainingState(
            step: step, totalSteps: totalSteps, samplesSeen: step * batchSize, configDigest: configDigest,
            parameterSHA256: ParameterDigest.sha256(of: store), optimizerSHA256: try fileSHA256(optimizerPath),
            optimizerStep: optimizer.stepCount)
        let statePath = staging + "/" + stateFileName
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            try encoder.encode(state).write(to: URL(fileURLWithPath: statePath))
        } catch {
            throw .io(path: statePath, reason: "cannot write the training state: \((error as NSError).localizedDescription)")
        }
        do {
            try CheckpointDirectory.write(to: target, config: config, store: store, copying: extraFiles + [optimizerPath, statePath],
                                          metadata: ["conaclip_step": String(step)], replaceExisting: true,
                                          beforeInstall: beforeInstall)
        } catch {
            throw .checkpoint("cannot write \(target): \(error)")
        }
        prune(run: run, keepLast: keepLast)
        return target
    }

    /// Deletes all checkpoints but the newest `keepLast`.
    public static func prune(run: RunDirectory, keepLast: Int) {
        let steps = run.checkpointSteps()
        guard steps.count > keepLast else { return }
        for step in steps.prefix(steps.count - max(1, keepLast)) {
            try? FileManager.default.removeItem(atPath: run.checkpointPath(step: step))
        }
    }

    /// Deletes the hidden staging directories a killed writer left in the
    /// checkpoints directory (`.state-*`, `.step-*`); only one process writes
    /// a run's checkpoints, and it calls this before writing any.
    public static func removeStaging(run: RunDirectory) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: run.checkpointsPath) else { return }
        for name in names where name.hasPrefix(".state-") || name.hasPrefix(".step-") {
            try? FileManager.default.removeItem(atPath: run.checkpointsPath + "/" + name)
        }
    }

    /// What `restoreNewest` found.
    public struct Restored: Sendable {
        /// The restored state, or nil when the run has no checkpoint (start from step 0).
        public var state: TrainingState?
        public var path: String?
        /// Newer checkpoints that were skipped, each with the reason.
        public var skipped: [String]
    }

    /// Restores weights and optimizer state from the newest valid checkpoint
    /// of `run`. A checkpoint written under another config digest is an
    /// error (resuming it would silently change the run); an incomplete or
    /// corrupt one is skipped for the next older. No checkpoint at all
    /// returns `state == nil`; checkpoints that are all invalid are an error.
    public static func restoreNewest(
        run: RunDirectory, configDigest: String, store: ParameterStore, optimizer: AdamW
    ) throws(TrainingError) -> Restored {
        removeStaging(run: run)
        var skipped: [String] = []
        for step in run.checkpointSteps().reversed() {
            let path = run.checkpointPath(step: step)
            do throws(RestoreFailure) {
                let state = try restore(path: path, configDigest: configDigest, store: store, optimizer: optimizer)
                return Restored(state: state, path: path, skipped: skipped)
            } catch {
                switch error {
                case let .fatal(reason): throw .checkpoint(reason)
                case let .invalid(reason): skipped.append("\(path): \(reason)")
                }
            }
        }
        guard skipped.isEmpty else {
            throw .checkpoint("no valid checkpoint to resume from in \(run.checkpointsPath):\n  "
                + skipped.joined(separator: "\n  ") + "\nremove the broken directories or start a new run with another --out")
        }
        return Restored(state: nil, path: nil, skipped: [])
    }

    enum RestoreFailure: Error {
        /// The checkpoint is fine but must not be used (another config).
        case fatal(String)
        /// The checkpoint is incomplete or corrupt.
        case invalid(String)
    }

    /// Validates and loads one checkpoint directory.
    static func restore(path: String, configDigest: String, store: ParameterStore,
                        optimizer: AdamW) throws(RestoreFailure) -> TrainingState {
        let statePath = path + "/" + stateFileName
        let state: TrainingState
        do {
            state = try JSONDecoder().decode(TrainingState.self, from: Data(contentsOf: URL(fileURLWithPath: statePath)))
        } catch {
            throw .invalid("unreadable \(stateFileName) (\(error))")
        }
        guard state.format == TrainingState.formatName else {
            throw .invalid("\(stateFileName) has format \(state.format), expected \(TrainingState.formatName)")
        }
        guard state.configDigest == configDigest else {
            throw .fatal("\(path) was written by a different training config (digest \(state.configDigest.prefix(12))…, "
                + "this config's is \(configDigest.prefix(12))…); resume with the config that started the run, "
                + "or start a new run with another --out")
        }
        do {
            try CheckpointDirectory(path: path).loadWeights(into: store)
        } catch {
            throw .invalid("cannot load the weights: \(error)")
        }
        let digest = ParameterDigest.sha256(of: store)
        guard digest == state.parameterSHA256 else {
            throw .invalid("the weights' SHA-256 \(digest.prefix(12))… does not match the recorded \(state.parameterSHA256.prefix(12))…")
        }
        let optimizerPath = path + "/" + optimizerFileName
        let optimizerDigest: String
        do { optimizerDigest = try fileSHA256(optimizerPath) } catch { throw .invalid("\(error)") }
        guard optimizerDigest == state.optimizerSHA256 else {
            throw .invalid("\(optimizerFileName)'s SHA-256 does not match the recorded one")
        }
        do {
            let file = try SafeTensorsFile(path: optimizerPath)
            let m = try file.tensor(named: firstMomentName).scalars
            let v = try file.tensor(named: secondMomentName).scalars
            try optimizer.restore(AdamWState(step: state.optimizerStep, firstMoment: m, secondMoment: v))
        } catch {
            throw .invalid("cannot restore the optimizer state: \(error)")
        }
        return state
    }

    /// Lower-case hex SHA-256 of a file's bytes.
    public static func fileSHA256(_ path: String) throws(TrainingError) -> String {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw .io(path: path, reason: "cannot read: \((error as NSError).localizedDescription)")
        }
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}
