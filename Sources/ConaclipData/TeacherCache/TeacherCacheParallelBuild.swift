import Foundation

/// Builds a teacher cache with several worker processes: each child
/// (`conaclip cache build-part`, one BLAS thread) embeds one contiguous,
/// chunk-aligned slice into a part file; the parent waits for all of them
/// within a time limit, merges the parts in order into the final file
/// (atomically), verifies it and removes the parts. A child that fails or
/// overruns stops the others and fails the build with its standard error.
///
/// The result is bit-identical to a one-process build: the slices start at
/// multiples of `TeacherEmbedder.chunkSize`, so every record is embedded in
/// the same forward pass by the same single-threaded code.
public struct TeacherCacheParallelBuild {
    /// The executable to run for each part (normally `conaclip` itself).
    public var executable: String
    /// The child's arguments for records `slice` written to the part file `partPath`.
    public var partArguments: @Sendable (_ slice: Range<Int>, _ partPath: String) -> [String]
    /// Upper bound on the whole build's wall time, in seconds.
    public var timeout: TimeInterval
    /// Environment entries set for every child on top of this process's own.
    public var environment: [String: String]

    /// Children run single-threaded BLAS: processes are the parallelism.
    public static let childEnvironment = ["CONACLIP_BLAS_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"]

    public init(executable: String, timeout: TimeInterval, environment: [String: String] = childEnvironment,
                partArguments: @escaping @Sendable (_ slice: Range<Int>, _ partPath: String) -> [String]) {
        self.executable = executable; self.timeout = timeout
        self.environment = environment; self.partArguments = partArguments
    }

    /// Runs up to `workers` children over `recordCount` records and merges
    /// their parts into `path`. Returns the merged file's header.
    @discardableResult
    public func run(recordCount: Int, workers: Int, into path: String) throws(TeacherCacheError) -> TeacherCacheHeader {
        let slices = TeacherCacheBuilder.slices(count: recordCount, parts: workers)
        guard !slices.isEmpty else { throw .parts("the dataset has no records to embed") }
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let work = ((directory.isEmpty ? "." : directory) as NSString)
            .appendingPathComponent(".\(name).parts-\(ProcessInfo.processInfo.processIdentifier)-\(suffix)")
        do {
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: false)
        } catch {
            throw .fileSystem(path: work, reason: "cannot create the parts directory: \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(atPath: work) }

        let partPaths = slices.indices.map { (work as NSString).appendingPathComponent("part-\($0).cache") }
        let errorPaths = slices.indices.map { (work as NSString).appendingPathComponent("part-\($0).stderr") }
        let finished = DispatchSemaphore(value: 0)
        let exits = ExitLog()
        var children: [Process] = []
        defer { Self.stop(children) }
        var childEnvironment = ProcessInfo.processInfo.environment
        for (key, value) in environment { childEnvironment[key] = value }

        for (i, slice) in slices.enumerated() {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = partArguments(slice, partPaths[i])
            process.environment = childEnvironment
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            guard FileManager.default.createFile(atPath: errorPaths[i], contents: nil),
                  let errorHandle = FileHandle(forWritingAtPath: errorPaths[i]) else {
                throw .fileSystem(path: errorPaths[i], reason: "cannot create the worker's error log")
            }
            process.standardError = errorHandle
            process.terminationHandler = { _ in
                exits.append(i)
                finished.signal()
            }
            do {
                try process.run()
            } catch {
                try? errorHandle.close()
                throw .worker(part: i, records: slice, status: -1,
                              stderr: "cannot start \(executable): \(error.localizedDescription)")
            }
            try? errorHandle.close()
            children.append(process)
        }

        let deadline = DispatchTime.now() + timeout
        var remaining = children.count
        while remaining > 0 {
            if finished.wait(timeout: deadline) == .timedOut {
                let done = Set(exits.all)
                let slow = children.indices.first { !done.contains($0) } ?? 0
                Self.stop(children)
                throw .workerTimeout(part: slow, records: slices[slow], seconds: timeout)
            }
            remaining -= 1
            for i in exits.all {
                let child = children[i]
                let signalled = child.terminationReason == .uncaughtSignal
                guard child.terminationStatus == 0 && !signalled else {
                    Self.stop(children)
                    var stderr = (try? String(contentsOfFile: errorPaths[i], encoding: .utf8)) ?? ""
                    stderr = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
                    if signalled { stderr += "\n(killed by signal \(child.terminationStatus))" }
                    throw .worker(part: i, records: slices[i], status: child.terminationStatus, stderr: stderr)
                }
            }
        }
        try TeacherCacheBuilder.merge(parts: partPaths, into: path)
        return try TeacherEmbeddingCache.inspect(path: path, verifyPayload: true).header
    }

    /// Asks running children to stop (SIGTERM) and waits for them a bounded time.
    private static func stop(_ processes: [Process]) {
        let running = processes.filter(\.isRunning)
        for process in running { process.terminate() }
        let deadline = Date().addingTimeInterval(10)
        for process in running {
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        }
    }
}

/// The indices of the children that have exited, appended from their
/// termination handlers (which run on another thread).
private final class ExitLog: @unchecked Sendable {
    private let lock = NSLock()
    private var indices: [Int] = []

    func append(_ index: Int) {
        lock.lock(); defer { lock.unlock() }
        indices.append(index)
    }

    var all: [Int] {
        lock.lock(); defer { lock.unlock() }
        return indices
    }
}
