import Dispatch
import Foundation
import Logging
import Synchronization

/// What `conaclip launch --workers N` was asked to do.
public struct LocalLaunchOptions {
    /// The `conaclip` executable to start (this one).
    public var executable: String
    public var workers: Int
    public var configPath: String
    public var outputDirectory: String
    public var resume: Bool
    public var minWorkers: Int?
    /// The coordinator's `--progress` value.
    public var progress: String
    /// Polled often: the signal number that asks to stop (0: keep going).
    public var stopSignal: () -> Int32
    public var logger: Logger
    public var say: (String) -> Void
    /// Seconds to wait for the coordinator's endpoint line.
    public var startTimeout: Double = 120
    /// Seconds the workers get to exit after the coordinator did, before being terminated.
    public var workerExitGrace: Double = 10
    /// Keep the children's standard output (and the workers' logs) to
    /// themselves, e.g. for a benchmark that prints JSON.
    public var quiet = false

    public init(executable: String, workers: Int, configPath: String, outputDirectory: String, resume: Bool, minWorkers: Int?,
                progress: String, stopSignal: @escaping () -> Int32, logger: Logger, say: @escaping (String) -> Void) {
        self.executable = executable; self.workers = workers; self.configPath = configPath; self.outputDirectory = outputDirectory
        self.resume = resume; self.minWorkers = minWorkers; self.progress = progress; self.stopSignal = stopSignal
        self.logger = logger; self.say = say
    }
}

/// A coordinator and N workers on this machine, as child processes:
/// fresh CURVE keys (in a private temporary directory, deleted at the end)
/// even on loopback, one BLAS thread each, every child tied to the launcher
/// (it stops when the launcher's pipe to it closes, even if the launcher is
/// SIGKILLed), signals forwarded, stragglers terminated, and an exit status
/// that tells the truth: the coordinator's (128 + signal when a signal
/// ended it or the launcher), non-zero when all workers died before the
/// training finished.
public final class LocalLauncher {
    public let options: LocalLaunchOptions

    public init(options: LocalLaunchOptions) { self.options = options }

    /// A started child and its pipe.
    final class Child: @unchecked Sendable {
        let name: String
        let process = Process()
        let input = Pipe()
        let exited = DispatchSemaphore(value: 0)
        init(name: String) { self.name = name }

        var isRunning: Bool { process.isRunning }
        var pid: Int32 { process.processIdentifier }

        /// The exit status as a shell reports it (128 + signal when killed by one).
        var status: Int32 {
            process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        }

        func signal(_ number: Int32) { if process.isRunning { kill(process.processIdentifier, number) } }

        /// Whether the process is stopped (SIGSTOP): it cannot exit by itself.
        var isStopped: Bool {
            guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("T")
        }
    }

    /// Runs everything and returns the exit status for the launcher.
    public func run() throws(ClusterError) -> Int32 {
        let keys = try makeKeys()
        defer { try? FileManager.default.removeItem(atPath: keys) }
        var children: [Child] = []
        defer { cleanUp(children) }

        // The coordinator, on a port the OS picks; its first line names the endpoint.
        let coordinator = Child(name: "coordinator")
        children.append(coordinator)
        var arguments = ["coordinator", "--config", options.configPath, "--bind", "tcp://127.0.0.1:0", "--out", options.outputDirectory,
                         "--secret-key", keys + "/coordinator.secret", "--allow", keys + "/allow", "--progress", options.progress]
        if options.resume { arguments.append("--resume") }
        if let minimum = options.minWorkers { arguments += ["--min-workers", String(minimum)] }
        let endpointSeen = EndpointWatch()
        let quiet = options.quiet
        let output = Pipe()
        coordinator.process.standardOutput = output
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            guard !data.isEmpty else { handle.readabilityHandler = nil; return }
            if !quiet { FileHandle.standardOutput.write(data) }
            endpointSeen.append(data)
        }
        try start(coordinator, arguments: arguments)

        let deadline = ContinuousClock.now + .seconds(options.startTimeout)
        var endpoint: String?
        while endpoint == nil {
            endpoint = endpointSeen.endpoint
            if endpoint != nil { break }
            if !coordinator.isRunning {
                _ = coordinator.exited.wait(timeout: .now() + 5)
                options.logger.error("the coordinator exited before listening", metadata: ["status": "\(coordinator.status)"])
                return coordinator.status == 0 ? 1 : coordinator.status
            }
            if options.stopSignal() != 0 { return stopAll(children, signal: options.stopSignal()) }
            if ContinuousClock.now > deadline {
                throw .setup("the coordinator did not report its endpoint within \(Int(options.startTimeout)) s")
            }
            endpointSeen.waitForData(timeout: 0.1)
        }
        guard let endpoint else { return 1 }
        options.logger.info("coordinator listening; starting workers", metadata: ["endpoint": "\(endpoint)", "workers": "\(options.workers)"])

        for index in 1...options.workers {
            let worker = Child(name: "worker-\(index)")
            children.append(worker)
            try start(worker, arguments: ["worker", "--connect", endpoint, "--secret-key", keys + "/worker-\(index).secret",
                                          "--coordinator-key", keys + "/coordinator.public", "--name", worker.name,
                                          // The launcher ends them itself; waiting for a coordinator that pre-trains a teacher may take long.
                                          "--give-up-after", "86400"])
        }
        let workers = Array(children.dropFirst())

        // Wait for the coordinator; forward signals; notice when no worker is left.
        var forwarded: Int32 = 0
        var allGoneSince: ContinuousClock.Instant?
        while coordinator.isRunning {
            let signal = options.stopSignal()
            if signal != 0 && forwarded == 0 {
                forwarded = signal
                options.logger.warning("forwarding signal \(signal) to the coordinator and workers")
                for child in children { child.signal(signal) }
            }
            if forwarded == 0 && workers.allSatisfy({ !$0.isRunning }) {
                // Workers that exited 0 were told to by the coordinator, which is finishing too: give it time.
                let since = allGoneSince ?? ContinuousClock.now
                allGoneSince = since
                let failed = workers.allSatisfy { $0.status != 0 }
                if failed || ContinuousClock.now - since > .seconds(60) {
                    options.logger.error("every worker exited before the training finished; stopping the coordinator (it writes a checkpoint)",
                                         metadata: ["worker-status": "\(workers.map { "\($0.name)=\($0.status)" }.joined(separator: ","))"])
                    coordinator.signal(SIGTERM)
                    _ = coordinator.exited.wait(timeout: .now() + 60)
                    return 1
                }
            }
            _ = coordinator.exited.wait(timeout: .now() + 0.1)
        }
        _ = coordinator.exited.wait(timeout: .now() + 5)
        let status = coordinator.status
        // Workers leave on the coordinator's shutdown; give them a moment, then make sure.
        let graceEnd = ContinuousClock.now + .seconds(options.workerExitGrace)
        while workers.contains(where: { $0.isRunning && !$0.isStopped }) && ContinuousClock.now < graceEnd {
            if options.stopSignal() != 0 && forwarded == 0 { break }
            for worker in workers where worker.isRunning { _ = worker.exited.wait(timeout: .now() + 0.1); break }
        }
        if forwarded != 0 { return 128 + forwarded }
        return status
    }

    private func start(_ child: Child, arguments: [String]) throws(ClusterError) {
        child.process.executableURL = URL(fileURLWithPath: options.executable)
        child.process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["CONACLIP_BLAS_THREADS"] = "1"
        environment["OPENBLAS_NUM_THREADS"] = "1"
        environment[ClusterEnvironment.exitWithParent] = "1"
        child.process.environment = environment
        child.process.standardInput = child.input
        if options.quiet && child.name != "coordinator" {
            child.process.standardOutput = FileHandle.nullDevice
            child.process.standardError = FileHandle.nullDevice
        }
        child.process.terminationHandler = { [exited = child.exited] _ in exited.signal() }
        do { try child.process.run() } catch {
            throw .setup("cannot start \(child.name) (\(options.executable)): \(error.localizedDescription)")
        }
        options.logger.info("started \(child.name)", metadata: ["pid": "\(child.pid)"])
    }

    /// Forwards `signal` to every child and waits for them (bounded).
    private func stopAll(_ children: [Child], signal: Int32) -> Int32 {
        for child in children { child.signal(signal) }
        let end = ContinuousClock.now + .seconds(30)
        while children.contains(where: \.isRunning) && ContinuousClock.now < end { Thread.sleep(forTimeInterval: 0.05) }
        return 128 + signal
    }

    /// Terminates whatever is still running: SIGTERM (and SIGCONT, so a
    /// stopped process can act on it), then SIGKILL after a grace period.
    private func cleanUp(_ children: [Child]) {
        let running = children.filter(\.isRunning)
        for child in children { try? child.input.fileHandleForWriting.close() }
        guard !running.isEmpty else { return }
        options.logger.warning("terminating children still running", metadata: ["children": "\(running.map(\.name).joined(separator: ","))"])
        for child in running { child.signal(SIGTERM); child.signal(SIGCONT) }
        let end = ContinuousClock.now + .seconds(10)
        for child in running {
            let remaining = end - ContinuousClock.now
            if remaining > .zero { _ = child.exited.wait(timeout: .now() + Coordinator.seconds(remaining)) }
        }
        for child in running where child.isRunning {
            options.logger.error("\(child.name) ignored SIGTERM; SIGKILL", metadata: ["pid": "\(child.pid)"])
            child.signal(SIGKILL)
            _ = child.exited.wait(timeout: .now() + 5)
        }
    }

    /// Fresh CURVE keys for this launch in a private temporary directory.
    private func makeKeys() throws(ClusterError) -> String {
        var template = Array((NSTemporaryDirectory() + "/conaclip-launch-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }) else {
            throw .setup("cannot create a private temporary directory: \(String(cString: strerror(errno)))")
        }
        let directory = String(cString: made)
        do {
            let coordinator = try ZeroMQCurveKeyPair.generate()
            try CurveKeyFile.write(coordinator, prefix: directory + "/coordinator")
            var allow = "# workers of this launch\n"
            for index in 1...max(1, options.workers) {
                let pair = try ZeroMQCurveKeyPair.generate()
                try CurveKeyFile.write(pair, prefix: directory + "/worker-\(index)")
                allow += "\(pair.publicKey.z85) worker-\(index)\n"
            }
            try Data(allow.utf8).write(to: URL(fileURLWithPath: directory + "/allow"))
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw .setup("cannot make the launch's CURVE keys: \(error)")
        }
        return directory
    }
}

/// Collects the coordinator's standard output until its endpoint line appears.
final class EndpointWatch: Sendable {
    private let state = Mutex<(text: String, endpoint: String?)>(("", nil))
    private let arrived = DispatchSemaphore(value: 0)
    static let prefix = "coordinator: listening on "

    func append(_ data: Data) {
        state.withLock { state in
            guard state.endpoint == nil else { return }
            state.text += String(decoding: data, as: UTF8.self)
            for line in state.text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() where line.hasPrefix(Self.prefix) {
                state.endpoint = String(line.dropFirst(Self.prefix.count)).trimmingCharacters(in: .whitespaces)
            }
        }
        arrived.signal()
    }

    var endpoint: String? { state.withLock { $0.endpoint } }

    func waitForData(timeout: Double) { _ = arrived.wait(timeout: .now() + timeout) }
}
