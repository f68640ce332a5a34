import Foundation
import Testing
@testable import ConaclipDistill

/// The training loop: determinism, checkpoints, resume equivalence, metrics.
@Suite struct TrainingLoopTests {
    static let totalSteps = 6

    /// A fresh student/teacher/trainer writing into `directory`.
    static func trainer(directory: String, checkpointEvery: Int = 2, keepLast: Int = 2, stopAfter: Int? = nil,
                        digest: String = "test-config", microShards: Int = 2) throws -> Trainer {
        let student = try TrainingFixture.student()
        let step = try TrainingFixture.step(student: student, teacher: try TrainingFixture.teacher(),
                                            terms: try TrainingFixture.defaultTerms(), microShards: microShards)
        let schedule = try LearningRateSchedule(lr: 2e-3, warmupSteps: 2, totalSteps: totalSteps, minLR: 1e-4)
        let settings = Trainer.Settings(totalSteps: totalSteps, batchSize: 8, checkpointEvery: checkpointEvery,
                                        keepLast: keepLast, logEvery: 1, configDigest: digest, stopAfterStep: stopAfter)
        return Trainer(step: step, schedule: schedule, source: RandomPairSource(), run: RunDirectory(path: directory),
                       modelConfig: student.config, extraFiles: [], settings: settings,
                       progress: ProgressDisplay(mode: .silent, totalSteps: totalSteps, batchSize: 8, every: 1))
    }

    static func temporaryDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("conaclip-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    static func finalDigest(_ outcome: Trainer.Outcome) -> String? {
        if case let .completed(_, _, digest, _) = outcome { return digest }
        return nil
    }

    /// Metrics lines without the timing fields.
    static func lossLines(_ directory: String) throws -> [String] {
        let text = try String(contentsOfFile: directory + "/metrics.jsonl", encoding: .utf8)
        return text.split(separator: "\n").map { line in
            String(line[..<(line.range(of: ",\"step_time\"")?.lowerBound ?? line.endIndex)])
        }
    }

    @Test func twoRunsGiveIdenticalWeightsAndTheFinalDirectoryLoads() throws {
        let a = try Self.temporaryDirectory(), b = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
        let first = try Self.trainer(directory: a).run(from: 0)
        let second = try Self.trainer(directory: b).run(from: 0)
        let digest = try #require(Self.finalDigest(first))
        #expect(Self.finalDigest(second) == digest)

        // The final directory holds the same weights, loadable as a model.
        let model = try CLIPModel(config: try CheckpointDirectory(path: a + "/final").readConfig())
        try CheckpointDirectory(path: a + "/final").loadWeights(into: model.parameters)
        #expect(ParameterDigest.sha256(of: model.parameters) == digest)
        // Training moved the weights.
        #expect(digest != ParameterDigest.sha256(of: try TrainingFixture.student().parameters))

        // One metrics line per step, with every term.
        let lines = try String(contentsOfFile: a + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == Self.totalSteps)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(object["step"] as? Int == 1)
        let terms = try #require(object["terms"] as? [String: Double])
        #expect(terms.count == 6)
        for key in ["total", "task", "lr", "grad_norm", "step_time", "pairs_per_s", "logit_scale"] {
            #expect(object[key] is Double, "metrics line lacks \(key)")
        }
        // keep_last 2 of the checkpoints at steps 2, 4 and the final 6.
        #expect(RunDirectory(path: a).checkpointSteps() == [4, 6])
    }

    @Test func resumingGivesTheSameFinalWeightsAsNeverStopping() throws {
        let straight = try Self.temporaryDirectory(), interrupted = try Self.temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: straight); try? FileManager.default.removeItem(atPath: interrupted)
        }
        let reference = try #require(Self.finalDigest(try Self.trainer(directory: straight).run(from: 0)))

        // Stop after 3 steps (between the checkpoints at 2 and 4).
        let stopped = try Self.trainer(directory: interrupted, stopAfter: 3).run(from: 0)
        #expect(stopped == .stopped(steps: 3, checkpoint: RunDirectory(path: interrupted).checkpointPath(step: 3)))

        // A fresh process: new models from the seed, then resume.
        let resumed = try Self.trainer(directory: interrupted)
        #expect(try resumed.resume() == 3)
        let outcome = try resumed.run(from: 3)
        #expect(Self.finalDigest(outcome) == reference)
        #expect(try Self.lossLines(interrupted) == (try Self.lossLines(straight)))
    }

    @Test func aCorruptNewestCheckpointIsSkippedForTheOlderOne() throws {
        let straight = try Self.temporaryDirectory(), broken = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: straight); try? FileManager.default.removeItem(atPath: broken) }
        let reference = try #require(Self.finalDigest(try Self.trainer(directory: straight).run(from: 0)))
        _ = try Self.trainer(directory: broken, keepLast: 3, stopAfter: 4).run(from: 0)
        let run = RunDirectory(path: broken)
        #expect(run.checkpointSteps() == [2, 4])
        // Flip one byte of the newest optimizer state.
        let path = run.checkpointPath(step: 4) + "/" + TrainingCheckpoint.optimizerFileName
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 3] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let resumed = try Self.trainer(directory: broken, keepLast: 3)
        #expect(try resumed.resume() == 2)
        #expect(Self.finalDigest(try resumed.run(from: 2)) == reference)
    }

    @Test func aCheckpointOfAnotherConfigIsRefused() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try Self.trainer(directory: directory, stopAfter: 2).run(from: 0)
        let other = try Self.trainer(directory: directory, digest: "another-config")
        do {
            _ = try other.resume()
            Issue.record("a checkpoint of another config was resumed")
        } catch {
            #expect("\(error)".contains("different training config"))
        }
    }

    @Test func aStopRequestWritesACheckpointAfterTheCurrentStep() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let outcome = try Self.trainer(directory: directory, checkpointEvery: 0).run(from: 0, shouldStop: { true })
        #expect(outcome == .stopped(steps: 1, checkpoint: RunDirectory(path: directory).checkpointPath(step: 1)))
        let state = try JSONDecoder().decode(TrainingState.self, from: Data(contentsOf: URL(
            fileURLWithPath: RunDirectory(path: directory).checkpointPath(step: 1) + "/" + TrainingCheckpoint.stateFileName)))
        #expect(state.step == 1)
        #expect(state.optimizerStep == 1)
        #expect(state.samplesSeen == 8)
        // The checkpoint is a loadable model directory.
        #expect(FileManager.default.fileExists(atPath: RunDirectory(path: directory).checkpointPath(step: 1) + "/config.json"))
    }

    @Test func metricsLinesAreValidJSONWithFixedKeys() throws {
        let metrics = StepMetrics(step: 3, total: 1.5, task: 0.25, terms: [("intra-ts:fd:1.0", 0.5), ("a\"b", .nan)],
                                  learningRate: 1e-4, gradientNorm: 2, logitScale: 14.3, stepTime: 0.5, dataTime: 0.1,
                                  pairsPerSecond: 16)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(metrics.jsonLine.utf8)) as? [String: Any])
        #expect(object["step"] as? Int == 3)
        let terms = try #require(object["terms"] as? [String: Any])
        #expect(terms["intra-ts:fd:1.0"] as? Double == 0.5)
        #expect(terms["a\"b"] is NSNull)
        #expect(metrics.jsonLine.hasPrefix("{\"step\":3,\"total\":1.5,\"task\":0.25,"))
    }
}
