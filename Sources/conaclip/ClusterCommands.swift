import ArgumentParser
import ConaclipCluster
import Foundation
import Logging

/// How the coordinator shows progress.
enum ClusterProgressChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, terminal, lines, none

    var mode: ProgressDisplay.Mode {
        switch self {
        case .auto: return ProgressDisplay.automaticMode()
        case .terminal: return .terminal
        case .lines: return .lines
        case .none: return .silent
        }
    }
}

let faultHelp = """
Fault injection (for tests and for rehearsing failures): the config's cluster.faults list \
and CONACLIP_FAULTS (specs separated by ';') hold specs KIND@key=value,...: \
worker-exit@step=K[,worker=N] (SIGKILL itself on receiving a task of step K), \
worker-stall@step=K[,worker=N][,seconds=S] (SIGSTOP itself, or freeze S seconds), \
nan-gradient@step=K[,worker=N], drop|delay|corrupt@type=MESSAGE[,ms=M][,step=K][,worker=N], \
coordinator-crash@step=K, checkpoint-crash@step=K (once per run directory). Steps count from 1.
"""

let environmentHelp = """
Environment: CONACLIP_SECRET_KEY (this process's secret key file), CONACLIP_COORDINATOR_SECRET_KEY \
(the coordinator's, when one environment serves every rank), CONACLIP_COORDINATOR_KEY (the coordinator's \
public key file, for workers), CONACLIP_ALLOW (allow-list file, for the coordinator), CONACLIP_INSECURE=1 \
(plaintext on purpose); flags win over them.
"""

/// Stops the process (as SIGTERM would) when standard input closes, for
/// children of `conaclip launch`: they go away with their launcher even
/// when it is SIGKILLed.
enum ParentWatch {
    static func startIfAsked() {
        guard ProcessInfo.processInfo.environment[ClusterEnvironment.exitWithParent] == "1" else { return }
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 256)
            while true {
                let count = read(STDIN_FILENO, &buffer, buffer.count)
                if count == 0 || (count < 0 && errno != EINTR) { break }
            }
            kill(getpid(), SIGTERM)
        }
        thread.name = "conaclip-parent-watch"
        thread.start()
    }
}

/// `conaclip coordinator`: the coordinator of distributed training.
struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Coordinate distributed training: shard each batch over workers, reduce their gradients, step the student.",
        discussion: """
        Binds ENDPOINT, prints `coordinator: listening on tcp://HOST:PORT` (the port the OS chose for \
        port 0) and waits for workers (`conaclip worker --connect ...`). Workers get the config from \
        the coordinator. The weights are bit-identical to `conaclip train` with the same config, whatever \
        the number of workers and whatever fails on the way; `weights digest:` at the end equals \
        `conaclip checkpoint digest DIR`. Writes the same run directory as `conaclip train` \
        (metrics.jsonl adds the per-step compute/communication/waiting split, bytes moved and every \
        membership event). SIGINT/SIGTERM write a checkpoint and stop the workers (exit 130/143); \
        --resume continues from the newest valid checkpoint. CURVE encryption and an allow-list of \
        worker keys are on whenever a secret key is given, and required for a non-loopback address \
        unless --insecure. \(environmentHelp) \(faultHelp)
        """)

    @Option(help: "Training config (YAML).")
    var config: String

    @Option(help: "Endpoint to bind, e.g. tcp://0.0.0.0:5555 or tcp://127.0.0.1:0 (port 0: the OS picks one).")
    var bind: String

    @Option(help: "Run directory (default: runs/<config name>).")
    var out: String?

    @Flag(help: "Continue the run in --out from its newest valid checkpoint (starts afresh when it has none).")
    var resume = false

    @Option(help: "Live workers needed to make progress (default: the config's cluster.min_workers, 1).")
    var minWorkers: Int?

    @Option(help: "The coordinator's CURVE secret key file (conaclip keys generate); default $CONACLIP_SECRET_KEY.")
    var secretKey: String?

    @Option(help: "Allow-list of worker public keys (one per line, optional name after it); default $CONACLIP_ALLOW.")
    var allow: String?

    @Flag(help: "Run without CURVE even on a non-loopback address (a trusted network only).")
    var insecure = false

    @Option(help: "Also write the bound endpoint to this file (atomically), for scripts.")
    var endpointFile: String?

    @Option(help: "Progress display: auto, terminal, lines or none.")
    var progress: ClusterProgressChoice = .auto

    func validate() throws {
        if let minWorkers, minWorkers < 1 { throw ValidationError("--min-workers must be at least 1") }
        guard ClusterEndpoint.isWellFormed(bind) else { throw ValidationError("--bind \(bind) is not tcp://HOST:PORT (or ipc://PATH)") }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let outcome = try CoordinatorCommand.runCoordinator(
            configPath: config, bind: bind, out: out, resume: resume, minWorkers: minWorkers,
            secretKey: secretKey ?? environment[ClusterEnvironment.secretKey],
            allow: allow ?? environment[ClusterEnvironment.allowList],
            insecure: insecure || ClusterEnvironment.insecureRequested(environment), endpointFile: endpointFile, progress: progress)
        if let code = outcome { throw ExitCode(code) }
    }

    /// Runs a coordinator; returns a non-zero exit code when it was stopped by a signal.
    static func runCoordinator(configPath: String, bind: String, out: String?, resume: Bool, minWorkers: Int?,
                               secretKey: String?, allow: String?, insecure: Bool, endpointFile: String?,
                               progress: ClusterProgressChoice) throws -> Int32? {
        let started = Date()
        let parsed = try TrainingConfig.load(path: configPath)
        let directory = out ?? "runs/" + ((configPath as NSString).lastPathComponent as NSString).deletingPathExtension
        try refuseExistingRun(directory, resume: resume)
        let security = try CoordinatorSecurityConfiguration.resolve(bind: bind, secretKey: secretKey, allowList: allow, insecure: insecure)
        let faults = try FaultPlan.parse(config: parsed.cluster.faults)
        StopSignal.install()
        ParentWatch.startIfAsked()
        let say: @Sendable (String) -> Void = { ProgressDisplay.writeToStandardOutput($0 + "\n") }
        let options = CoordinatorOptions(
            bind: bind, outputDirectory: directory, resume: resume, minWorkers: minWorkers, security: security,
            endpointFile: endpointFile, progressMode: progress.mode, stopSignal: { StopSignal.received }, faults: faults,
            logger: LineLogHandler.logger(label: "coordinator"), say: say)
        let coordinator = try Coordinator(config: parsed, options: options)
        let outcome = try coordinator.run()
        let elapsed = String(format: "%.1f", Date().timeIntervalSince(started))
        switch outcome {
        case let .completed(steps, finalDirectory, digest):
            say("done: \(steps) steps in \(elapsed) s; final model \(finalDirectory)")
            say("weights digest: \(digest)")
            return nil
        case let .stopped(steps, checkpoint, signal):
            let name = signal == SIGTERM ? "SIGTERM" : signal == SIGINT ? "SIGINT" : "signal \(signal)"
            FileHandle.standardError.write(Data(("conaclip coordinator: interrupted by \(name) after step \(steps); checkpoint "
                + "\(checkpoint ?? "none")\ncontinue with: conaclip coordinator --config \(configPath) --bind \(bind) --out \(directory) --resume\n").utf8))
            return 128 + signal
        }
    }

    static func refuseExistingRun(_ directory: String, resume: Bool) throws {
        guard !resume else { return }
        let runDirectory = RunDirectory(path: directory)
        let existing = runDirectory.checkpointSteps()
        if !existing.isEmpty || FileManager.default.fileExists(atPath: runDirectory.finalPath) {
            let what = existing.isEmpty ? "a final model" : "checkpoints at steps " + existing.map(String.init).joined(separator: ", ")
            throw TrainCommandError("\(directory) already holds a run (\(what)); pass --resume to continue it, or choose another --out")
        }
    }
}

/// `conaclip worker`: a worker of distributed training.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Work for a coordinator: embed micro-shards and compute their gradients.",
        discussion: """
        Connects to the coordinator, registers and receives the run's config (the model presets, \
        data and teacher files it names must exist here at the same relative paths). With --config, \
        the worker refuses to work for a coordinator whose config trains different weights. Heartbeats \
        flow while it computes; if the coordinator goes silent or restarts, the worker registers again. \
        It exits 0 when the coordinator ends the run, non-zero when it is refused (a key not on the \
        allow-list, quarantine, another config) or when no coordinator answers for --give-up-after \
        seconds; SIGINT/SIGTERM say goodbye and exit 130/143. One BLAS thread (CONACLIP_BLAS_THREADS). \
        \(environmentHelp)
        """)

    @Option(help: "The coordinator's endpoint, tcp://HOST:PORT.")
    var connect: String

    @Option(help: "Training config to check against the coordinator's (optional: the coordinator sends its own).")
    var config: String?

    @Option(help: "This worker's CURVE secret key file; default $CONACLIP_SECRET_KEY.")
    var secretKey: String?

    @Option(help: "The coordinator's CURVE public key file; default $CONACLIP_COORDINATOR_KEY.")
    var coordinatorKey: String?

    @Option(help: "Name in logs (default: HOST-PID).")
    var name: String?

    @Flag(help: "Connect without CURVE even to a non-loopback address (a trusted network only).")
    var insecure = false

    @Option(help: "Exit with an error after this many seconds without a coordinator.")
    var giveUpAfter: Double = 600

    func validate() throws {
        guard ClusterEndpoint.isWellFormed(connect) else { throw ValidationError("--connect \(connect) is not tcp://HOST:PORT (or ipc://PATH)") }
        guard giveUpAfter > 0 else { throw ValidationError("--give-up-after must be positive") }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        if let code = try WorkerCommand.runWorker(
            connect: connect, configPath: config, secretKey: secretKey ?? environment[ClusterEnvironment.secretKey],
            coordinatorKey: coordinatorKey ?? environment[ClusterEnvironment.coordinatorKey],
            name: name, insecure: insecure || ClusterEnvironment.insecureRequested(environment), giveUpAfter: giveUpAfter) {
            throw ExitCode(code)
        }
    }

    static func runWorker(connect: String, configPath: String?, secretKey: String?, coordinatorKey: String?, name: String?,
                          insecure: Bool, giveUpAfter: Double) throws -> Int32? {
        let own = try configPath.map { try TrainingConfig.load(path: $0) }
        let security = try WorkerSecurityConfiguration.resolve(connect: connect, secretKey: secretKey, coordinatorKey: coordinatorKey,
                                                               insecure: insecure)
        let faults = try FaultPlan.parse(config: [])
        StopSignal.install()
        ParentWatch.startIfAsked()
        let workerName = name ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        var template = Array((NSTemporaryDirectory() + "/conaclip-worker-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }) else {
            throw TrainCommandError("cannot create a temporary directory: \(String(cString: strerror(errno)))")
        }
        let scratch = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let say: @Sendable (String) -> Void = { ProgressDisplay.writeToStandardOutput($0 + "\n") }
        let worker = ClusterWorker(options: WorkerOptions(
            endpoint: ClusterEndpoint.normalizingAnyPort(connect), name: workerName, security: security, config: own,
            giveUpAfter: giveUpAfter, scratchDirectory: scratch, stopSignal: { StopSignal.received }, faults: faults,
            logger: LineLogHandler.logger(label: workerName), say: say))
        switch try worker.run() {
        case let .shutdown(reason):
            say("worker \(workerName): done (\(reason))")
            return nil
        case let .stopped(signal):
            return 128 + signal
        }
    }
}
