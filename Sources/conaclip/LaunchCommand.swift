import ArgumentParser
import ConaclipCluster
import Foundation
import Logging

/// `conaclip launch`: a whole distributed run from one command line, on
/// this machine or under a multi-machine launcher.
struct LaunchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch",
        abstract: "Run distributed training: a coordinator and N local workers, or this process's rank under torchrun/Slurm/Kubernetes.",
        discussion: """
        --workers N: starts `conaclip coordinator` on a loopback port the OS picks and N \
        `conaclip worker` processes (one BLAS thread each), with fresh CURVE keys in a private \
        temporary directory. Children stop when the launcher goes away; SIGINT/SIGTERM are forwarded \
        (the coordinator writes a checkpoint); the exit status is the coordinator's (non-zero when \
        training failed, 128+N after signal N). \
        --from-env: reads the launcher's environment and runs one role in this process: rank 0 the \
        coordinator (bound to tcp://*:PORT), the other ranks workers connecting to it. torchrun: RANK, \
        WORLD_SIZE, MASTER_ADDR, MASTER_PORT. Slurm: SLURM_PROCID, SLURM_NTASKS, SLURM_JOB_NODELIST \
        (the coordinator is on the first host). Kubernetes Indexed Job: JOB_COMPLETION_INDEX (all \
        workers; set CONACLIP_COORDINATOR=tcp://SERVICE:PORT). PORT is --port, else CONACLIP_PORT, else \
        MASTER_PORT+1 (torchrun's store owns MASTER_PORT), else 29501. CONACLIP_ROLE=coordinator|worker \
        overrides the role, CONACLIP_COORDINATOR the endpoint, CONACLIP_WORKER_NAME the name. \
        \(environmentHelp) Across machines the coordinator binds a non-loopback address, so CURVE keys \
        are required (or CONACLIP_INSECURE=1 / --insecure).
        """)

    @Option(help: "Local workers to start (with the coordinator) on this machine.")
    var workers: Int?

    @Flag(help: "Take the role from the launcher's environment (torchrun, Slurm, Kubernetes).")
    var fromEnv = false

    @Option(help: "Training config (YAML).")
    var config: String

    @Option(help: "Run directory (default: runs/<config name>).")
    var out: String?

    @Flag(help: "Continue the run from its newest valid checkpoint.")
    var resume = false

    @Option(help: "Live workers needed to make progress (default: the config's cluster.min_workers).")
    var minWorkers: Int?

    @Option(help: "Progress display of the coordinator: auto, terminal, lines or none.")
    var progress: ClusterProgressChoice = .auto

    @Option(help: "--from-env: the coordinator's TCP port (default: see above).")
    var port: Int?

    @Option(help: "--from-env: where workers connect, tcp://HOST:PORT (default: from the launcher's environment).")
    var coordinator: String?

    @Option(help: "--from-env: this process's CURVE secret key file; default $CONACLIP_SECRET_KEY (rank 0: $CONACLIP_COORDINATOR_SECRET_KEY first).")
    var secretKey: String?

    @Option(help: "--from-env: the coordinator's public key file (workers); default $CONACLIP_COORDINATOR_KEY.")
    var coordinatorKey: String?

    @Option(help: "--from-env: allow-list of worker public keys (coordinator); default $CONACLIP_ALLOW.")
    var allow: String?

    @Flag(help: "--from-env: no CURVE (a trusted network only); also CONACLIP_INSECURE=1.")
    var insecure = false

    @Option(help: "--from-env: seconds a worker waits for a coordinator before giving up.")
    var giveUpAfter: Double = 600

    func validate() throws {
        switch (workers, fromEnv) {
        case (nil, false): throw ValidationError("give --workers N (local) or --from-env (torchrun, Slurm, Kubernetes)")
        case (.some, true): throw ValidationError("--workers and --from-env exclude each other")
        case let (count?, false): guard count >= 1 else { throw ValidationError("--workers must be at least 1") }
        default: break
        }
        if let minWorkers, minWorkers < 1 { throw ValidationError("--min-workers must be at least 1") }
    }

    func run() throws {
        if fromEnv { return try runFromEnvironment() }
        guard let workers else { return }
        _ = try TrainingConfig.load(path: config)  // refuse a bad config before starting anything
        let directory = out ?? "runs/" + ((config as NSString).lastPathComponent as NSString).deletingPathExtension
        try CoordinatorCommand.refuseExistingRun(directory, resume: resume)
        StopSignal.install()
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let say: @Sendable (String) -> Void = { ProgressDisplay.writeToStandardOutput($0 + "\n") }
        let launcher = LocalLauncher(options: LocalLaunchOptions(
            executable: executable, workers: workers, configPath: config, outputDirectory: directory, resume: resume,
            minWorkers: minWorkers, progress: progress == .auto ? (isatty(STDOUT_FILENO) == 1 ? "terminal" : "lines") : progress.rawValue,
            stopSignal: { StopSignal.received }, logger: LineLogHandler.logger(label: "launch"), say: say))
        let status = try launcher.run()
        if status != 0 { throw ExitCode(status) }
    }

    private func runFromEnvironment() throws {
        let environment = ProcessInfo.processInfo.environment
        let plan = try LaunchEnvironment.plan(environment: environment, coordinator: coordinator, port: port,
                                              hostName: ProcessInfo.processInfo.hostName)
        let insecure = self.insecure || ClusterEnvironment.insecureRequested(environment)
        LineLogHandler.logger(label: "launch").info("launch from the environment", metadata: [
            "launcher": "\(plan.launcher)", "rank": "\(plan.rank)", "world-size": "\(plan.worldSize.map(String.init) ?? "?")",
            "role": "\(plan.role)"])
        switch plan.role {
        case let .coordinator(bind):
            let code = try CoordinatorCommand.runCoordinator(
                configPath: config, bind: bind, out: out, resume: resume, minWorkers: minWorkers,
                secretKey: secretKey ?? environment[ClusterEnvironment.coordinatorSecretKey] ?? environment[ClusterEnvironment.secretKey],
                allow: allow ?? environment[ClusterEnvironment.allowList], insecure: insecure, endpointFile: nil, progress: progress)
            if let code { throw ExitCode(code) }
        case let .worker(connect):
            let code = try WorkerCommand.runWorker(
                connect: connect, configPath: config, secretKey: secretKey ?? environment[ClusterEnvironment.secretKey],
                coordinatorKey: coordinatorKey ?? environment[ClusterEnvironment.coordinatorKey], name: plan.workerName,
                insecure: insecure, giveUpAfter: giveUpAfter)
            if let code { throw ExitCode(code) }
        }
    }
}

/// `conaclip bench cluster`: distributed training throughput for 1, 2, ...
/// local workers measured in one run, with and without the teacher cache.
struct ClusterBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Time distributed training with 1, 2, ... local workers (pairs/s, ratio, compute/communication/waiting).",
        discussion: """
        Writes a synthetic-shapes dataset, a teacher (the --teacher-model preset from a seed) and its \
        teacher-embedding cache into a temporary directory, then runs the same distillation through \
        `conaclip launch` once per worker count and teacher setting (forward passes, cache), and reads \
        each run's metrics.jsonl. pairs/s comes from the median timed step; the speed-up is against the \
        first worker count with the same teacher setting, measured in the same run. Every process has one \
        BLAS thread; on a machine with C cores, more than C - 1 workers share cores with the coordinator.
        """)

    @Option(help: "Student preset.")
    var model = "configs/models/student-64.yaml"

    @Option(help: "Teacher preset (initialised from a seed).")
    var teacherModel = "configs/models/teacher-64.yaml"

    @Option(help: "Worker counts, comma-separated.")
    var workers = "1,2"

    @Option(help: "Teacher embeddings: off (forward passes), on (cache), or both.")
    var cache = "both"

    @Option(help: "Pairs per step.")
    var batch = 128

    @Option(help: "Micro-shards per step.")
    var microShards = 4

    @Option(help: "Timed steps per run.")
    var steps = 6

    @Option(help: "Untimed warm-up steps per run.")
    var warmup = 2

    @Option(help: "Synthetic pairs in the dataset.")
    var pairs = 512

    @Option(help: "Rounds, each measuring every worker count back to back; figures are medians over rounds, speed-ups paired within a round.")
    var repeats = 1

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard counts.allSatisfy({ $0 >= 1 }), !counts.isEmpty else { throw ValidationError("--workers must list positive counts, e.g. 1,2") }
        guard ["on", "off", "both"].contains(cache) else { throw ValidationError("--cache must be on, off or both") }
        guard batch >= 1, microShards >= 1, batch % microShards == 0 else { throw ValidationError("--micro-shards must divide --batch") }
        guard steps >= 1, warmup >= 0, pairs >= batch else { throw ValidationError("--steps >= 1, --warmup >= 0 and --pairs >= --batch") }
        guard (1...50).contains(repeats) else { throw ValidationError("--repeats must be between 1 and 50") }
    }

    var counts: [Int] { workers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() throws {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let say: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        var logger = LineLogHandler.logger(label: "bench")
        logger.logLevel = .warning
        var options = ClusterBenchmark.Options(
            executable: executable, studentPreset: model, teacherPreset: teacherModel, workerCounts: counts,
            cacheSettings: cache == "both" ? [false, true] : [cache == "on"], batchSize: batch, microShards: microShards,
            steps: steps, warmup: warmup, pairs: pairs, logger: logger, say: say)
        options.repeats = repeats
        let report = try ClusterBenchmark.run(options)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("student \(report.studentPreset), teacher \(report.teacherPreset), batch \(report.batchSize) in \(report.microShards) "
            + "micro-shards, \(report.steps) timed steps, BLAS core \(report.blasCore), \(report.processorCount) CPUs"
            + (repeats > 1 ? "; medians of \(repeats) rounds, speed-up range over rounds in brackets" : ""))
        print("workers  teacher   pairs/s  speed-up  step s  compute  comm  waiting  comm %  MB/step")
        for m in report.measurements {
            let teacher = (m.teacherCache ? "cache" : "forward").padding(toLength: 7, withPad: " ", startingAt: 0)
            let range = m.rounds > 1 ? String(format: "  [%.2f-%.2fx]", m.speedupRange[0], m.speedupRange[1]) : ""
            print(String(format: "%7d  ", m.workers) + teacher + String(format: "  %7.1f  %7.2fx  %6.3f  %7.3f  %5.3f  %7.3f  %5.1f%%  %7.1f",
                         m.pairsPerSecond, m.speedup, m.medianStepSeconds,
                         m.computeSeconds, m.communicationSeconds, m.waitingSeconds, 100 * m.communicationFraction, m.bytesPerStep / 1e6)
                + range)
        }
    }
}
