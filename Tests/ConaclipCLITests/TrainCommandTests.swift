import Crypto
import Foundation
import Testing
import ConaclipModels

/// `conaclip train` as a real process on configs/smoke.yaml: metrics, a
/// loadable final model, determinism, resume after --stop-after-step and
/// after SIGINT, and refusals.
@Suite struct TrainCommandTests {
    /// A temporary working directory whose `configs` links to the
    /// repository's, so the smoke config's relative preset paths resolve.
    static func workspace() throws -> URL {
        let directory = try CLIRunner.temporaryDirectory()
        try FileManager.default.createSymbolicLink(
            at: directory.appendingPathComponent("configs"),
            withDestinationURL: CLIRunner.repositoryRoot.appendingPathComponent("configs"))
        return directory
    }

    static func train(_ arguments: [String], in directory: URL) throws -> CLIRunner.Run {
        try CLIRunner.run(["train", "--config", "configs/smoke.yaml", "--progress", "lines"] + arguments,
                          in: directory, timeout: 180)
    }

    /// The `parameter sha256: ...` line of a finished run.
    static func digest(_ run: CLIRunner.Run) -> String? {
        run.stdout.split(separator: "\n").first { $0.hasPrefix("parameter sha256: ") }
            .map { String($0.dropFirst("parameter sha256: ".count)) }
    }

    /// SHA-256 of a loaded model's float32 parameter bytes (what `conaclip train` prints).
    static func parameterDigest(_ store: ParameterStore) -> String {
        let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(store.values.pointer), count: store.count * 4)
        return SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    @Test func smokeRunWritesMetricsAndALoadableFinalModelAndResumesToTheSameWeights() throws {
        let directory = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        let full = try Self.train(["--out", "full"], in: directory)
        #expect(full.status == 0, "\(full.stderr)")
        let digest = try #require(Self.digest(full), "no digest in: \(full.stdout)")

        // metrics.jsonl: steps 1, 4, 8, 12, 16 (log.every_steps 4) with every term.
        let metrics = try String(contentsOf: directory.appendingPathComponent("full/metrics.jsonl"), encoding: .utf8)
        let lines = metrics.split(separator: "\n")
        var steps: [Int] = []
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            steps.append(try #require(object["step"] as? Int))
            let terms = try #require(object["terms"] as? [String: Double])
            #expect(terms.count == 6)
            #expect((object["total"] as? Double).map { $0.isFinite && $0 > 0 } == true)
            #expect((object["pairs_per_s"] as? Double).map { $0 > 0 } == true)
        }
        #expect(steps == [1, 4, 8, 12, 16])

        // The final model loads, with the printed weights, and its tokenizer and preprocessing.
        let final = CheckpointDirectory(path: directory.appendingPathComponent("full/final").path)
        let model = try CLIPModel(config: try final.readConfig())
        try final.loadWeights(into: model.parameters)
        #expect(Self.parameterDigest(model.parameters) == digest)
        #expect(Set(final.tokenizerFiles.map { ($0 as NSString).lastPathComponent }).isSuperset(of: ["vocab.json", "merges.txt"]))
        #expect(FileManager.default.fileExists(atPath: final.file("preprocessor_config.json")))
        let tokenizer = try CLIPTokenizer(directory: URL(fileURLWithPath: final.path))
        #expect(tokenizer.vocabularySize == model.config.textConfig.vocabSize)

        // Stopped after step 5, then resumed: the same weights as never stopping.
        let first = try Self.train(["--out", "parts", "--stop-after-step", "5"], in: directory)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("stopped after step 5"))
        let again = try Self.train(["--out", "parts"], in: directory)
        #expect(again.status != 0)
        #expect(again.stderr.contains("already holds a run"), "\(again.stderr)")
        let rest = try Self.train(["--out", "parts", "--resume"], in: directory)
        #expect(rest.status == 0, "\(rest.stderr)")
        #expect(rest.stdout.contains("resuming from"))
        #expect(Self.digest(rest) == digest)
        // The resumed run's metrics read like the uninterrupted run's.
        let resumedSteps = try String(contentsOf: directory.appendingPathComponent("parts/metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").count
        #expect(resumedSteps == lines.count)
    }

    @Test func sigintWritesACheckpointAndExitsWithAClearMessage() throws {
        let directory = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        let process = Process()
        process.executableURL = try CLIRunner.binary()
        process.arguments = ["train", "--config", "configs/smoke.yaml", "--out", "run", "--progress", "lines"]
        process.currentDirectoryURL = directory
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let seen = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        let collected = OutputCollector()
        output.fileHandleForReading.readabilityHandler = { handle in
            // The first set-up line: the handlers are installed and training
            // (teacher pre-training, then 16 steps) has not started yet.
            if collected.append(handle.availableData, signalling: "data: ") { seen.signal() }
        }
        process.terminationHandler = { _ in done.signal() }
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        guard seen.wait(timeout: .now() + 180) == .success else {
            Issue.record("no set-up line within 180 s: \(collected.text)")
            return
        }
        kill(process.processIdentifier, SIGINT)
        guard done.wait(timeout: .now() + 120) == .success else {
            Issue.record("conaclip train did not stop within 120 s of SIGINT")
            return
        }
        output.fileHandleForReading.readabilityHandler = nil
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 130)
        #expect(message.contains("interrupted by SIGINT after step"), "\(message)")
        #expect(message.contains("--resume"))
        let checkpoints = try FileManager.default.contentsOfDirectory(
            atPath: directory.appendingPathComponent("run/checkpoints").path).filter { $0.hasPrefix("step-") }
        #expect(!checkpoints.isEmpty)

        let resumed = try Self.train(["--out", "run", "--resume"], in: directory)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let reference = try Self.train(["--out", "reference"], in: directory)
        #expect(Self.digest(resumed) != nil)
        #expect(Self.digest(resumed) == Self.digest(reference))
    }

    @Test func refusesABadConfigNamingTheKey() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("bad.yaml")
        try "model: configs/models/tiny.yaml\nbatch_size: 8\nmicro_shard: 2\n".write(to: config, atomically: true, encoding: .utf8)
        let run = try CLIRunner.run(["train", "--config", config.path, "--out", directory.appendingPathComponent("out").path],
                                    in: directory)
        #expect(run.status != 0)
        #expect(run.stderr.contains("bad.yaml:3: unknown key micro_shard (did you mean micro_shards?)"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("out").path))
    }
}

/// Collects a child's output from the pipe's reader thread.
final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private var signalled = false

    /// Appends `chunk`; true the first time the text contains `marker`.
    func append(_ chunk: Data, signalling marker: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        data.append(chunk)
        guard !signalled, String(decoding: data, as: UTF8.self).contains(marker) else { return false }
        signalled = true
        return true
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}
