import Foundation

/// A long-running `conaclip` process for the multi-process tests: its
/// output is collected from pipes as it comes, and every wait (for a line,
/// for the exit) is bounded.
final class ClusterProcess: @unchecked Sendable {
    let name: String
    let process = Process()
    private let condition = NSCondition()
    private var out = Data()
    private var err = Data()
    private var finished = false
    private var openPipes = 2

    /// Starts `conaclip arguments` in `directory`; `environment` entries with a nil value are removed.
    init(_ arguments: [String], in directory: URL, environment: [String: String?] = [:], name: String) throws {
        self.name = name
        process.executableURL = try CLIRunner.binary()
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env["CONACLIP_FAULTS"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        for (pipe, isError) in [(output, false), (errors, true)] {
            pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
                let data = handle.availableData
                if data.isEmpty { handle.readabilityHandler = nil }
                self?.append(data, error: isError)
            }
        }
        process.terminationHandler = { [weak self] _ in
            guard let self else { return }
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    private func append(_ data: Data, error: Bool) {
        condition.lock()
        if data.isEmpty { openPipes -= 1 }
        if error { err.append(data) } else { out.append(data) }
        condition.broadcast()
        condition.unlock()
    }

    var stdout: String {
        condition.lock()
        defer { condition.unlock() }
        return String(decoding: out, as: UTF8.self)
    }

    var stderr: String {
        condition.lock()
        defer { condition.unlock() }
        return String(decoding: err, as: UTF8.self)
    }

    var pid: Int32 { process.processIdentifier }

    /// Waits (at most `timeout` seconds) until `predicate` holds for (stdout, stderr).
    func waitUntil(timeout: TimeInterval, _ what: String, _ predicate: (String, String) -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self)) {
            if finished {
                throw CLITestError("\(name) exited (status \(process.terminationStatus)) before \(what)\n--- stdout\n"
                    + String(decoding: out, as: UTF8.self) + "\n--- stderr\n" + String(decoding: err, as: UTF8.self))
            }
            if !condition.wait(until: deadline) {
                throw CLITestError("\(name): no \(what) within \(timeout) s\n--- stdout\n" + String(decoding: out, as: UTF8.self)
                    + "\n--- stderr\n" + String(decoding: err, as: UTF8.self))
            }
        }
    }

    /// Waits until standard output holds `text`.
    func waitForOutput(_ text: String, timeout: TimeInterval = 120) throws {
        try waitUntil(timeout: timeout, "\"\(text)\" on stdout") { out, _ in out.contains(text) }
    }

    /// The endpoint a coordinator (or `launch`) printed.
    func endpoint(timeout: TimeInterval = 60) throws -> String {
        let prefix = "coordinator: listening on "
        try waitUntil(timeout: timeout, "the endpoint line") { out, _ in out.split(separator: "\n").contains { $0.hasPrefix(prefix) } }
        let line = stdout.split(separator: "\n").first { $0.hasPrefix(prefix) } ?? ""
        return String(line.dropFirst(prefix.count))
    }

    /// Waits for the exit (at most `timeout` seconds; then kills it and throws) and returns the status.
    @discardableResult
    func waitForExit(timeout: TimeInterval = 180) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        var drainDeadline: Date?
        condition.lock()
        while !finished || openPipes > 0 {
            if finished && drainDeadline == nil { drainDeadline = Date().addingTimeInterval(10) }
            let until = drainDeadline.map { min($0, deadline) } ?? deadline
            if !condition.wait(until: until) {
                if finished { break }  // a grandchild still holds a pipe open: keep what arrived
                condition.unlock()
                kill(process.processIdentifier, SIGKILL)
                throw CLITestError("\(name) did not exit within \(timeout) s\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)")
            }
        }
        condition.unlock()
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// The `weights digest: ...` line.
    var weightsDigest: String? {
        stdout.split(separator: "\n").first { $0.hasPrefix("weights digest: ") }.map { String($0.dropFirst("weights digest: ".count)) }
    }
}
