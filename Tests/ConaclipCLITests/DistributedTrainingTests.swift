import ConaclipCluster
import Foundation
import Testing

/// The distributed trainer as real processes on loopback (OS-chosen ports,
/// every wait bounded): `configs/smoke.yaml` trained by a coordinator and
/// workers gives bit for bit the weights of single-process `conaclip train`,
/// with 1, 2 or 3 workers and through every failure the issue names.
@Suite struct DistributedTrainingTests {
    /// The single-process reference: the final weights' digest and the step-8 checkpoint's.
    struct Reference: Sendable {
        var final: String
        var step8: String
    }

    static let reference: Result<Reference, CLITestError> = {
        do {
            let directory = try TrainCommandTests.workspace()
            defer { try? FileManager.default.removeItem(at: directory) }
            let run = try CLIRunner.run(["train", "--config", "configs/smoke.yaml", "--out", "reference", "--progress", "none"],
                                        in: directory, timeout: 300)
            guard run.status == 0 else { return .failure(CLITestError("reference training failed: \(run.stderr)")) }
            let final = try digest("reference", in: directory)
            let step8 = try digest("reference/checkpoints/step-000008", in: directory)
            guard let printed = run.stdout.split(separator: "\n").first(where: { $0.hasPrefix("weights digest: ") }),
                  printed.hasSuffix(final) else {
                return .failure(CLITestError("conaclip train printed no weights digest equal to `checkpoint digest` (\(final)):\n\(run.stdout)"))
            }
            return .success(Reference(final: final, step8: step8))
        } catch let error as CLITestError {
            return .failure(error)
        } catch {
            return .failure(CLITestError("\(error)"))
        }
    }()

    static func digest(_ path: String, in directory: URL) throws -> String {
        let run = try CLIRunner.run(["checkpoint", "digest", path], in: directory)
        guard run.status == 0 else { throw CLITestError("checkpoint digest \(path) failed: \(run.stderr)") }
        return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func events(_ run: String, in directory: URL) throws -> [[String: Any]] {
        let text = try String(contentsOf: directory.appendingPathComponent("\(run)/metrics.jsonl"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }.filter { $0["event"] != nil }
    }

    static func coordinator(_ extra: [String], in directory: URL, out: String = "run", bind: String = "tcp://127.0.0.1:0",
                            environment: [String: String?] = [:]) throws -> ClusterProcess {
        try ClusterProcess(["coordinator", "--config", "configs/smoke.yaml", "--bind", bind, "--out", out, "--progress", "lines"] + extra,
                           in: directory, environment: environment, name: "coordinator")
    }

    static func worker(_ endpoint: String, name: String, in directory: URL, extra: [String] = [],
                       environment: [String: String?] = [:]) throws -> ClusterProcess {
        try ClusterProcess(["worker", "--connect", endpoint, "--name", name, "--give-up-after", "120"] + extra,
                           in: directory, environment: environment, name: name)
    }

    // MARK: - Determinism

    @Test(arguments: [1, 2, 3])
    func launchWithNWorkersMatchesSingleProcessTraining(workers: Int) throws {
        let reference = try Self.reference.get()
        let directory = try TrainCommandTests.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        let launch = try ClusterProcess(["launch", "--workers", "\(workers)", "--config", "configs/smoke.yaml", "--out", "run",
                                         "--progress", "lines"], in: directory, name: "launch")
        #expect(try launch.waitForExit(timeout: 300) == 0, "\(launch.stderr)")
        #expect(launch.weightsDigest == reference.final, "\(launch.stdout)")
        #expect(try Self.digest("run", in: directory) == reference.final)
        // Every worker joined; step lines carry the time split and bytes moved.
        let joined = try Self.events("run", in: directory).filter { $0["event"] as? String == "joined" }
        #expect(joined.count == workers)
        let lines = try String(contentsOf: directory.appendingPathComponent("run/metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        let last = try #require(lines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
            .last { $0["step"] as? Int == 16 && $0["event"] == nil })
        for key in ["compute_time", "communication_time", "waiting_time", "bytes_sent", "bytes_received", "live_workers"] {
            #expect(last[key] != nil, "metrics line lacks \(key)")
        }
        #expect((last["bytes_sent"] as? Int).map { $0 > 0 } == true)
    }

    @Test func shardLocalNegativesMatchSingleProcessTrainingToo() throws {
        let directory = try TrainCommandTests.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        let smoke = try String(contentsOf: CLIRunner.repositoryRoot.appendingPathComponent("configs/smoke.yaml"), encoding: .utf8)
        // Also one task at a time (smoke.yaml sends two ahead), so both ways of scheduling are covered.
        let local = smoke.replacingOccurrences(of: "loss:\n", with: "loss:\n  shard_local_negatives: true\n")
            .replacingOccurrences(of: "tasks_in_flight: 2", with: "tasks_in_flight: 1")
        #expect(local.contains("shard_local_negatives: true") && local.contains("tasks_in_flight: 1"))
        try local.write(to: directory.appendingPathComponent("local.yaml"), atomically: true, encoding: .utf8)
        let single = try CLIRunner.run(["train", "--config", "local.yaml", "--out", "single", "--progress", "none"], in: directory, timeout: 300)
        #expect(single.status == 0, "\(single.stderr)")
        let launch = try ClusterProcess(["launch", "--workers", "2", "--config", "local.yaml", "--out", "run", "--progress", "none"],
                                        in: directory, name: "launch")
        #expect(try launch.waitForExit(timeout: 300) == 0, "\(launch.stderr)")
        let expected = try Self.digest("single", in: directory)
        #expect(try Self.digest("run", in: directory) == expected)
        #expect(try expected != Self.reference.get().final)  // it is another loss
    }

    // MARK: - Failures

    @Test func aWorkerSIGKILLedMidStepIsReplaced() throws {
        let reference = try Self.reference.get()
        let directory = try TrainCommandTests.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        let launch = try ClusterProcess(["launch", "--workers", "2", "--config", "configs/smoke.yaml", "--out", "run", "--progress", "lines"],
                                        in: directory, environment: ["CONACLIP_FAULTS": "worker-exit@step=3,worker=1"], name: "launch")
        #expect(try launch.waitForExit(timeout: 300) == 0, "\(launch.stderr)")
        #expect(launch.stderr.contains("fault injection: worker-exit at step 3"))
        #expect(try Self.digest("run", in: directory) == reference.final)
        let events = try Self.events("run", in: directory)
        #expect(events.contains { ["left", "dead"].contains($0["event"] as? String) && $0["worker_id"] as? Int == 1 }, "\(events)")
        #expect(events.contains { $0["event"] as? String == "reassigned" && $0["worker_id"] as? Int == 1 })
    }

    @Test func aSIGSTOPpedWorkerIsOvertakenAndDeclaredDead() throws {
        let reference = try Self.reference.get()
        let directory = try TrainCommandTests.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        // The stalled worker must be declared dead before the 13 remaining
        // steps are done, however fast they run: a shorter dead_after than
        // smoke.yaml's (cluster settings never change the weights).
        let smoke = try String(contentsOf: CLIRunner.repositoryRoot.appendingPathComponent("configs/smoke.yaml"), encoding: .utf8)
        let stall = smoke.replacingOccurrences(of: "dead_after: 4.0", with: "dead_after: 1.5")
        #expect(stall != smoke)
        try stall.write(to: directory.appendingPathComponent("stall.yaml"), atomically: true, encoding: .utf8)
        let launch = try ClusterProcess(["launch", "--workers", "2", "--config", "stall.yaml", "--out", "run", "--progress", "lines"],
                                        // Slowed gradients keep the run going well past dead_after, on any machine.
                                        in: directory, environment: ["CONACLIP_FAULTS": "worker-stall@step=3,worker=1; delay@type=gradient,ms=150,count=0"],
                                        name: "launch")
        #expect(try launch.waitForExit(timeout: 300) == 0, "\(launch.stderr)")
        #expect(launch.stderr.contains("SIGSTOP"))
        #expect(launch.stderr.contains("straggler: re-issuing step 3"), "\(launch.stderr)")
        #expect(launch.stderr.contains("worker dead"))
        #expect(try Self.digest("run", in: directory) == reference.final)
    }

    @Test func aWorkerJoiningLateTakesWork() throws {
        let reference = try Self.reference.get()
        let directory = try TrainCommandTests.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        let coordinator = try Self.coordinator([], in: directory)
        let endpoint = try coordinator.endpoint()
        // The first worker is slowed down so that the run lasts until the second has joined.
        let first = try Self.worker(endpoint, name: "early", in: directory, environment: ["CONACLIP_FAULTS": "delay@type=gradient,ms=300,count=0"])
        try coordinator.waitForOutput("step  4/16", timeout: 240)
        let late = try Self.worker(endpoint, name: "late", in: directory)
        #expect(try coordinator.waitForExit(timeout: 300) == 0, "\(coordinator.stderr)")
        #expect(try first.waitForExit(timeout: 60) == 0)
        #expect(try late.waitForExit(timeout: 60) == 0)
        #expect(coordinator.weightsDigest == reference.final)
        let joined = try Self.events("run", in: directory).first { $0["event"] as? String == "joined" && $0["worker"] as? String == "late" }
        #expect((joined?["step"] as? Int).map { $0 >= 4 } == true, "\(String(describing: joined))")
        let summary = coordinator.stdout.split(separator: "\n").first { $0.hasPrefix("workers: ") } ?? ""
        let lateTasks = summary.split(separator: ",").first { $0.contains("late:") }
            .flatMap { Int($0.split(separator: " ").dropLast().last ?? "") }
        #expect((lateTasks ?? 0) > 0, "\(summary)")
    }

    @Test func theCoordinatorSIGKILLedAndResumedFinishesTheSameRun() throws {
        let reference = try Self.reference.get()
        let directory = try TrainCommandTests.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try Self.coordinator([], in: directory, environment: ["CONACLIP_FAULTS": "coordinator-crash@step=10"])
        let endpoint = try first.endpoint()
        let workers = try (1...2).map { try Self.worker(endpoint, name: "w\($0)", in: directory) }
        #expect(try first.waitForExit(timeout: 300) == 128 + SIGKILL)
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("run/checkpoints/step-000008").path))
        // The same endpoint and run directory; the workers reconnect by themselves.
        let second = try Self.coordinator(["--resume"], in: directory, bind: endpoint)
        #expect(try second.waitForExit(timeout: 300) == 0, "\(second.stderr)")
        #expect(second.stdout.contains("resuming from"))
        #expect(second.weightsDigest == reference.final)
        for worker in workers { #expect(try worker.waitForExit(timeout: 60) == 0, "\(worker.stderr)") }
    }

    @Test func aKillDuringACheckpointWriteLeavesThePreviousOneResumable() throws {
        let reference = try Self.reference.get()
        let directory = try TrainCommandTests.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try Self.coordinator([], in: directory, environment: ["CONACLIP_FAULTS": "checkpoint-crash@step=16"])
        let endpoint = try first.endpoint()
        let worker = try Self.worker(endpoint, name: "w1", in: directory)
        #expect(try first.waitForExit(timeout: 300) == 128 + SIGKILL)
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("run/checkpoints").path)
        #expect(checkpoints.contains("step-000008"))
        #expect(!checkpoints.contains("step-000016"), "\(checkpoints)")
        // The newest complete checkpoint is the one a single process wrote at step 8.
        #expect(try Self.digest("run", in: directory) == reference.step8)
        let second = try Self.coordinator(["--resume"], in: directory, bind: endpoint)
        #expect(try second.waitForExit(timeout: 300) == 0, "\(second.stderr)")
        #expect(second.stdout.contains("resuming from") && second.stdout.contains("step-000008"))
        #expect(try Self.digest("run", in: directory) == reference.final)
        #expect(try worker.waitForExit(timeout: 60) == 0)
        // The half-written checkpoint's staging directories are gone.
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("run/checkpoints").path)
        #expect(!left.contains { $0.hasPrefix(".") }, "\(left)")
    }

    @Test func launchForwardsSIGTERMLeavesNoChildAndResumes() throws {
        let reference = try Self.reference.get()
        let directory = try TrainCommandTests.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        let launch = try ClusterProcess(["launch", "--workers", "2", "--config", "configs/smoke.yaml", "--out", "run", "--progress", "lines"],
                                        in: directory, environment: ["CONACLIP_FAULTS": "delay@type=gradient,ms=100,count=0"], name: "launch")
        try launch.waitForOutput("step  4/16", timeout: 240)
        launch.signal(SIGTERM)
        #expect(try launch.waitForExit(timeout: 120) == 128 + SIGTERM)
        let pids = launch.stderr.split(separator: "\n").filter { $0.contains("launch info: started") }
            .compactMap { line in line.split(separator: " ").first { $0.hasPrefix("pid=") }.flatMap { Int32($0.dropFirst(4)) } }
        #expect(pids.count == 3, "\(launch.stderr)")
        for pid in pids { #expect(kill(pid, 0) == -1 && errno == ESRCH, "child \(pid) outlived the launcher") }
        let resumed = try ClusterProcess(["launch", "--workers", "2", "--config", "configs/smoke.yaml", "--out", "run", "--resume",
                                          "--progress", "lines"], in: directory, name: "launch --resume")
        #expect(try resumed.waitForExit(timeout: 300) == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("resuming from"))
        #expect(try Self.digest("run", in: directory) == reference.final)
    }

    @Test func droppedAndCorruptedMessagesAreRecoveredFrom() throws {
        let reference = try Self.reference.get()
        let directory = try TrainCommandTests.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        // One worker, so nobody else could cover for what it loses.
        let faults = "drop@type=gradient,step=2; drop@type=assign,step=3; corrupt@type=embeddings,step=4; delay@type=gathered,ms=200,step=5"
        let launch = try ClusterProcess(["launch", "--workers", "1", "--config", "configs/smoke.yaml", "--out", "run", "--progress", "lines"],
                                        in: directory, environment: ["CONACLIP_FAULTS": faults], name: "launch")
        #expect(try launch.waitForExit(timeout: 300) == 0, "\(launch.stderr)")
        let log = launch.stderr
        for line in ["fault injection: dropped gradient", "result lost in transit", "fault injection: dropped assign",
                     "assignment lost in transit", "fault injection: corrupting embeddings", "payload checksum mismatch",
                     "fault injection: delaying gathered"] {
            #expect(log.contains(line), "no \"\(line)\" in:\n\(log)")
        }
        #expect(try Self.digest("run", in: directory) == reference.final)
    }

    @Test func aWorkerSendingBadResultsIsQuarantined() throws {
        let reference = try Self.reference.get()
        let directory = try TrainCommandTests.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        let launch = try ClusterProcess(["launch", "--workers", "2", "--config", "configs/smoke.yaml", "--out", "run", "--progress", "lines"],
                                        in: directory, environment: ["CONACLIP_FAULTS": "nan-gradient@worker=1,count=0"], name: "launch")
        #expect(try launch.waitForExit(timeout: 300) == 0, "\(launch.stderr)")
        let quarantined = try Self.events("run", in: directory).filter { $0["event"] as? String == "quarantined" }
        #expect(quarantined.count == 1 && quarantined.first?["worker_id"] as? Int == 1, "\(quarantined)")
        #expect(try Self.digest("run", in: directory) == reference.final)
    }

    @Test func aDivergedRunStopsWithAClearErrorInsteadOfRecomputingForever() throws {
        let directory = try TrainCommandTests.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        // A learning rate that blows the weights up: the third step's embeddings are not finite on any worker.
        let smoke = try String(contentsOf: CLIRunner.repositoryRoot.appendingPathComponent("configs/smoke.yaml"), encoding: .utf8)
        var diverged = smoke
        for (old, new) in [("pretrain_steps: 8", "pretrain_steps: 0"), ("lr: 2.0e-3", "lr: 1.0e+8"), ("warmup_steps: 2", "warmup_steps: 0"),
                           ("max_grad_norm: 1.0", "max_grad_norm: .inf")] {
            #expect(diverged.contains(old), "smoke.yaml no longer says \(old)")
            diverged = diverged.replacingOccurrences(of: old, with: new)
        }
        try diverged.write(to: directory.appendingPathComponent("diverged.yaml"), atomically: true, encoding: .utf8)
        let single = try CLIRunner.run(["train", "--config", "diverged.yaml", "--out", "single", "--progress", "none"], in: directory, timeout: 120)
        #expect(single.status != 0 && single.stderr.contains("step 3: the loss is"), "\(single.stderr)")
        let launch = try ClusterProcess(["launch", "--workers", "2", "--config", "diverged.yaml", "--out", "run", "--progress", "lines"],
                                        in: directory, name: "launch")
        #expect(try launch.waitForExit(timeout: 120) == 1, "\(launch.stderr)")
        #expect(launch.stderr.contains("step 3 shard"), "\(launch.stderr)")
        #expect(launch.stderr.contains("the run cannot go on"), "\(launch.stderr)")
        #expect(launch.stderr.contains("lower optimizer.lr"), "\(launch.stderr)")
    }

    // MARK: - Hostile peers

    @Test func aWorkerWithAKeyOffTheAllowListIsRefused() throws {
        let reference = try Self.reference.get()
        let directory = try TrainCommandTests.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        for name in ["coordinator", "good", "bad"] {
            let made = try CLIRunner.run(["keys", "generate", "--out", name], in: directory)
            #expect(made.status == 0, "\(made.stderr)")
        }
        let goodKey = try String(contentsOf: directory.appendingPathComponent("good.public"), encoding: .utf8)
            .split(separator: "\n").first { !$0.hasPrefix("#") } ?? ""
        try "\(goodKey) good\n".write(to: directory.appendingPathComponent("allow"), atomically: true, encoding: .utf8)
        let coordinator = try Self.coordinator(["--secret-key", "coordinator.secret", "--allow", "allow"], in: directory)
        let endpoint = try coordinator.endpoint()
        let bad = try Self.worker(endpoint, name: "bad", in: directory,
                                  extra: ["--secret-key", "bad.secret", "--coordinator-key", "coordinator.public"])
        #expect(try bad.waitForExit(timeout: 120) != 0)
        #expect(bad.stderr.contains("refused this worker's CURVE key"), "\(bad.stderr)")
        let good = try Self.worker(endpoint, name: "good", in: directory,
                                   extra: ["--secret-key", "good.secret", "--coordinator-key", "coordinator.public"])
        #expect(try coordinator.waitForExit(timeout: 300) == 0, "\(coordinator.stderr)")
        #expect(try good.waitForExit(timeout: 60) == 0)
        #expect(coordinator.stderr.contains("refused peer") && coordinator.stderr.contains("public key is not on the allow-list"),
                "\(coordinator.stderr)")
        #expect(coordinator.weightsDigest == reference.final)
    }

    @Test func malformedMessagesAndANaNGradientAreRefusedWithoutHarm() throws {
        let reference = try Self.reference.get()
        let directory = try TrainCommandTests.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        let coordinator = try Self.coordinator([], in: directory)
        let endpoint = try coordinator.endpoint()

        let context = try ZeroMQContext()
        let intruder = try ZeroMQSocket(context: context, type: .dealer, linger: .zero)
        try intruder.connect(endpoint)
        var wrongVersion = WireHeader(type: .heartbeat, runID: 0, step: 0, microShard: nil, metaLength: 0,
                                      floatFrameCount: 0, floatCount: 0, payloadChecksum: 0)
        wrongVersion.version = 99
        let registration = try WireCodec.encode(.register(WorkerRegistration(name: "x", hostname: "h", processID: 1, threads: 1)),
                                                envelope: WireEnvelope(runID: 0))
        var badChecksum: [[UInt8]] = registration.parts.map { part in
            if case let .bytes(bytes) = part { return bytes }
            return []
        }
        badChecksum[1][0] ^= 0xFF
        let oversizedMeta = WireHeader(type: .register, runID: 0, step: 0, microShard: nil, metaLength: 1 << 20,
                                       floatFrameCount: 0, floatCount: 0, payloadChecksum: 0).encoded()
        let messages: [[[UInt8]]] = [
            [[0x43, 0x4E, 0x43, 0x4C, 1, 0]],                       // truncated header
            [[UInt8](repeating: 0xAB, count: 64), [1, 2, 3]],       // garbage
            [wrongVersion.encoded(), []],                           // another protocol version
            badChecksum,                                            // corrupted in transit
            [oversizedMeta, []],                                    // declares 1 MiB of metadata
        ]
        for message in messages { try intruder.send(frames: message, timeout: .seconds(5)) }
        try coordinator.waitUntil(timeout: 120, "five refusals") { _, err in
            err.components(separatedBy: "refused message").count > 5
        }
        // A frame above ZMQ_MAXMSGSIZE: libzmq drops the connection.
        try intruder.send(frames: [[UInt8](repeating: 0, count: 3 << 20)], timeout: .seconds(5))
        intruder.close()

        let worker = try Self.worker(endpoint, name: "w1", in: directory, environment: ["CONACLIP_FAULTS": "nan-gradient@step=2"])
        #expect(try coordinator.waitForExit(timeout: 300) == 0, "\(coordinator.stderr)")
        #expect(try worker.waitForExit(timeout: 60) == 0)
        let log = coordinator.stderr
        for reason in ["truncated message", "not a conaclip message", "protocol version 99", "payload checksum mismatch",
                       "message too large", "non-finite value"] {
            #expect(log.contains(reason), "no refusal mentioning \(reason):\n\(log)")
        }
        #expect(coordinator.weightsDigest == reference.final)
    }
}
