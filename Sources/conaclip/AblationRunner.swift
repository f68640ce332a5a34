import ConaclipCluster
import Crypto
import Foundation

/// Runs an `AblationGrid` in a directory, resumably:
///
/// - `configs/SLUG.yaml`: each run's complete training config (run or resume
///   it by hand with `conaclip train`);
/// - `cells/SLUG/`: each run's `conaclip train` directory (checkpoints, final/);
/// - `logs/SLUG.log`: each run's training output (appended on every attempt);
/// - `results/SLUG.json`: each run's `AblationRecord` (digest, status, recalls);
/// - `ablation.md`, `ablation.csv`: the table, rewritten after every cell;
/// - `ablate.log`: one line per event (start, done, recorded, failed, stale);
/// - `stale/`: runs recorded under another digest, moved aside, never deleted.
///
/// Each run trains in a child `conaclip train --resume` process (its own
/// process group; SIGINT/SIGTERM to the runner are forwarded once, so the
/// child checkpoints), up to `jobs` at a time, and is evaluated here when it
/// finishes. A run recorded as done under the same digest is not rerun; an
/// interrupted one resumes from its newest checkpoint.
final class AblationRunner {
    let grid: AblationGrid
    let directory: String
    let executable: String
    let jobs: Int
    let stopAfterStep: Int?
    let say: (String) -> Void

    /// What an invocation did.
    struct Summary: Equatable {
        var trained = 0
        var recorded = 0
        var unfinished = 0
        var failed: [String] = []
        var interruptedBy: Int32 = 0
    }

    private var records: [String: AblationRecord] = [:]
    private var digests: [String: String] = [:]
    private var evaluationPairs: TrainingPairs?

    init(grid: AblationGrid, directory: String, executable: String, jobs: Int, stopAfterStep: Int?,
         say: @escaping (String) -> Void) {
        self.grid = grid
        self.directory = directory
        self.executable = executable
        self.jobs = jobs
        self.stopAfterStep = stopAfterStep
        self.say = say
    }

    // MARK: - Paths

    func path(_ parts: String...) -> String { ([directory] + parts).joined(separator: "/") }
    func configPath(_ cell: AblationGrid.Cell) -> String { path("configs", cell.slug + ".yaml") }
    func runPath(_ cell: AblationGrid.Cell) -> String { path("cells", cell.slug) }
    func logPath(_ cell: AblationGrid.Cell) -> String { path("logs", cell.slug + ".log") }
    func recordPath(_ cell: AblationGrid.Cell) -> String { path("results", cell.slug + ".json") }
    var markdownPath: String { path("ablation.md") }
    var csvPath: String { path("ablation.csv") }

    // MARK: - Running

    /// Prepares every run (digests, configs, stale runs moved aside), then
    /// trains and evaluates those without a finished record, unless `dryRun`.
    func run(dryRun: Bool) throws -> Summary {
        // Inputs first: a missing teacher or dataset is reported before anything is written.
        let pairs = try openEvaluationPairs()
        evaluationPairs = pairs
        let training = try openTrainingPairs()
        try checkLength(trainingPairs: training.count)
        let inputs = try inputsDigest(training: training, evaluation: pairs)
        for sub in ["", "configs", "cells", "results", "logs"] {
            try createDirectory(sub.isEmpty ? directory : path(sub))
        }
        let lock = try DirectoryLock(path: path(".lock"))
        defer { lock.release() }
        var summary = Summary()
        var pending: [AblationGrid.Cell] = []
        var stale: Set<String> = []
        for cell in grid.runs {
            let digest = grid.digest(for: cell, inputsDigest: inputs)
            digests[cell.slug] = digest
            try writeConfig(cell)
            let existing = try readRecord(cell)
            if let existing, existing.digest == digest {
                records[cell.slug] = existing
                if existing.status == .done {
                    summary.recorded += 1
                    event("recorded \(cell.slug) (digest \(digest.prefix(12)), not rerun)")
                    continue
                }
            } else if existing != nil || FileManager.default.fileExists(atPath: runPath(cell)) {
                stale.insert(cell.slug)
                if !dryRun { try moveAside(cell, digest: existing?.digest) }
            }
            pending.append(cell)
        }
        try writeTables()
        let total = grid.runs.count
        say("ablate: \(total) run(s) in \(directory): \(summary.recorded) recorded, \(pending.count) to train"
            + (grid.cells.count > total ? " (\(grid.cells.count - total) cell(s) identical to the baseline)" : ""))
        if !dryRun && !pending.isEmpty {
            try prepareTeacherCache(training: training)
        }
        if dryRun {
            for cell in pending {
                var state = records[cell.slug].map { "resume (\($0.status.rawValue), attempt \($0.attempts + 1))" } ?? "new"
                if stale.contains(cell.slug) { state = "stale (recorded under another digest; would be moved to stale/ and run anew)" }
                say("  would train \(cell.name): \(state), config \(configPath(cell))")
            }
            return summary
        }

        var queue = pending[...]
        var started = summary.recorded
        var running: [(cell: AblationGrid.Cell, child: ChildProcess)] = []
        var forwarded = false
        while !queue.isEmpty || !running.isEmpty {
            let stopping = StopSignal.received != 0
            if stopping && !forwarded {
                forwarded = true
                say("ablate: stopping; the running cell(s) write a checkpoint first")
                for entry in running { entry.child.signal(StopSignal.received) }
            }
            while !stopping && running.count < jobs, let cell = queue.popFirst() {
                started += 1
                do {
                    running.append((cell, try start(cell, index: started, total: total)))
                } catch {
                    summary.failed.append(cell.name)
                    if var record = records[cell.slug] {
                        record.status = .failed
                        record.failure = "\(error)"
                        records[cell.slug] = record
                        try? writeRecord(record, for: cell)
                    }
                    say("  \(cell.name): FAILED to start: \(error)")
                    event("failed \(cell.slug) (start: \(error))")
                }
            }
            var stillRunning: [(cell: AblationGrid.Cell, child: ChildProcess)] = []
            for entry in running {
                guard let termination = entry.child.poll() else {
                    stillRunning.append(entry)
                    continue
                }
                finish(entry.cell, child: entry.child, termination: termination, summary: &summary)
            }
            running = stillRunning
            if stopping && running.isEmpty { break }
            if !running.isEmpty { usleep(50_000) }
        }
        summary.unfinished += queue.count
        summary.interruptedBy = StopSignal.received
        try writeTables()
        return summary
    }

    private func start(_ cell: AblationGrid.Cell, index: Int, total: Int) throws -> ChildProcess {
        var record = records[cell.slug]
            ?? AblationRecord(cell: cell.name, terms: cell.terms.map(\.spec), digest: digests[cell.slug] ?? "",
                              status: .started, attempts: 0)
        let resuming = record.attempts > 0
        record.status = .started
        record.attempts += 1
        record.failure = nil
        try writeRecord(record, for: cell)
        records[cell.slug] = record
        var arguments = ["train", "--config", configPath(cell), "--out", runPath(cell), "--resume", "--progress", "lines"]
        if let stopAfterStep { arguments += ["--stop-after-step", String(stopAfterStep)] }
        appendToLog(cell, "== conaclip ablate: attempt \(record.attempts): conaclip \(arguments.joined(separator: " "))\n")
        event("start \(cell.slug) attempt \(record.attempts) (\(resuming ? "resume" : "fresh"))")
        say("[\(index)/\(total)] \(cell.name): training (\(resuming ? "resuming, attempt \(record.attempts)" : "new")); "
            + "log \(logPath(cell))")
        return try ChildProcess.spawn(executable: executable, arguments: arguments, logPath: logPath(cell))
    }

    private func finish(_ cell: AblationGrid.Cell, child: ChildProcess, termination: ChildProcess.Termination,
                        summary: inout Summary) {
        guard var record = records[cell.slug] else { return }
        let final = runPath(cell) + "/final"
        let finished = termination.succeeded
            && FileManager.default.fileExists(atPath: final + "/" + CheckpointDirectory.configFileName)
        do {
            if finished {
                try evaluate(cell, model: final, into: &record)
                record.status = .done
                summary.trained += 1
                let base = records[grid.cells[0].slug].flatMap { $0.status == .done ? $0.meanRecall : nil }
                let delta = cell.isBaseline ? "" : base.map { " (\(AblationTable.signed((record.meanRecall ?? 0) - $0)) vs baseline)" } ?? ""
                say("  \(cell.name): mean recall \(AblationTable.format(record.meanRecall ?? 0))\(delta)")
                event("done \(cell.slug) mean_recall \(record.meanRecall ?? 0)")
            } else if termination.succeeded || termination == .exited(130) || termination == .exited(143) {
                summary.unfinished += 1
                say("  \(cell.name): stopped before the end (\(termination)); run ablate again to resume it")
                event("stopped \(cell.slug) (\(termination))")
            } else {
                record.status = .failed
                record.failure = "conaclip train ended with \(termination); see \(logPath(cell))"
                summary.failed.append(cell.name)
                say("  \(cell.name): FAILED (\(termination)); last lines of \(logPath(cell)):\n"
                    + child.logTail().split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n"))
                event("failed \(cell.slug) (\(termination))")
            }
        } catch {
            record.status = .failed
            record.failure = "evaluation failed: \(error)"
            summary.failed.append(cell.name)
            say("  \(cell.name): evaluation FAILED: \(error)")
            event("failed \(cell.slug) (evaluation: \(error))")
        }
        records[cell.slug] = record
        do {
            try writeRecord(record, for: cell)
            try writeTables()
        } catch {
            say("  warning: \(error)")
        }
    }

    // MARK: - Evaluation

    private func openEvaluationPairs() throws -> TrainingPairs {
        do {
            return try TrainingPairs.open(grid.evaluation.data)
        } catch {
            throw AblateError("evaluation data (\(grid.source), eval): \(error)")
        }
    }

    private func openTrainingPairs() throws -> TrainingPairs {
        let config = grid.config(for: grid.cells[0])
        do {
            return try TrainingPairs.open(config.data)
        } catch {
            throw AblateError("training data (\(grid.basePath)): \(error)")
        }
    }

    /// Checks (or builds, under `on_stale: rebuild`) the teacher cache the
    /// runs share, once, before any starts: parallel cells would otherwise
    /// each build it, and under `refuse` every cell would fail alike.
    private func prepareTeacherCache(training: TrainingPairs) throws {
        guard let config = grid.runs.map({ grid.config(for: $0) }).first(where: { !$0.loss.terms.isEmpty }),
              let settings = config.teacherCache else { return }
        let cache: TeacherEmbeddingCache?
        do {
            cache = try TrainingSession.prepareTeacherCache(for: config, pairs: training) { say("  " + $0) }
        } catch {
            throw AblateError("\(error) (base \(grid.basePath))")
        }
        if let cache { say("teacher cache \(settings.path): \(cache.count) records, checked against the teacher and the data") }
    }

    /// Refuses a run length the training schedule cannot take (e.g. fewer
    /// steps than the base's warmup), before any cell starts.
    private func checkLength(trainingPairs: Int) throws {
        let config = grid.config(for: grid.cells[0])
        let total: Int
        do { total = try config.totalSteps(trainingPairs: trainingPairs) } catch {
            throw AblateError("\(error) (base \(grid.basePath), \(trainingPairs) training pairs)")
        }
        let warmup = config.optimizer.warmupSteps
        guard warmup <= total else {
            throw AblateError("\(grid.source): each run would take \(total) steps, fewer than the \(warmup) warmup steps of "
                + "\(grid.basePath) (optimizer.warmup_steps); give the grid more steps or epochs, or a base with less warmup")
        }
    }

    private func evaluate(_ cell: AblationGrid.Cell, model: String, into record: inout AblationRecord) throws {
        guard let pairs = evaluationPairs else { throw AblateError("the evaluation data is not open") }
        let encoder = try CLIPEncoder(directory: model, chunkSize: grid.evaluation.batch)
        let evaluation = try ModelEvaluation(encoder: encoder, modelPath: model, batch: grid.evaluation.batch)
        let outcome = try evaluation.run(records: pairs.evaluationRecords) { record, report throws(DatasetError) in
            try pairs.evaluationImage(record, report: &report)
        }
        record.textToImage = outcome.retrieval.textToImage
        record.imageToText = outcome.retrieval.imageToText
        record.meanRecall = outcome.retrieval.meanRecall
        record.evaluatedPairs = outcome.records.count
        record.model = model
        record.parameterSHA256 = ParameterDigest.sha256(of: encoder.model.parameters)
    }

    // MARK: - Digests

    /// SHA-256 of what the configs' paths point at, so that a retrained
    /// teacher, another tokenizer, edited presets or rebuilt data make every
    /// recorded cell stale: the model and teacher presets' bytes, the teacher
    /// directory's config and weight files, the tokenizer files, and the
    /// training and evaluation datasets' digests (ids, captions, image bytes).
    private func inputsDigest(training: TrainingPairs, evaluation pairs: TrainingPairs) throws -> String {
        let config = grid.config(for: grid.cells[0])
        var lines: [String] = []
        lines.append("model_preset=" + (try fileDigest(config.model, what: "model preset")))
        switch config.teacher {
        case nil:
            break
        case let .directory(teacher)?:
            guard FileManager.default.fileExists(atPath: teacher + "/" + CheckpointDirectory.configFileName) else {
                throw AblateError("the teacher \(teacher) (named by \(grid.basePath)) is not a model directory; train or "
                    + "download it first (e.g. conaclip train --config configs/teacher-pretrain.yaml)")
            }
            lines.append("teacher_config=" + (try fileDigest(teacher + "/" + CheckpointDirectory.configFileName, what: "teacher config")))
            let files = try CheckpointDirectory(path: teacher).openWeights()
            for file in files { lines.append("teacher_weights=" + (try fileDigest(file.path, what: "teacher weights"))) }
        case let .initialized(preset, _, _)?:
            lines.append("teacher_preset=" + (try fileDigest(preset, what: "teacher preset")))
        }
        if case let .directory(tokenizer) = config.effectiveTokenizer {
            lines.append("tokenizer=" + (try TeacherEmbedder.tokenizerDigest(directory: tokenizer)))
        }
        if case let .dataset(dataset) = training { lines.append("train_data=" + (try dataset.datasetDigest())) }
        if case let .dataset(dataset) = pairs { lines.append("eval_data=" + (try dataset.datasetDigest())) }
        return Self.sha256(lines.joined(separator: "\n"))
    }

    private func fileDigest(_ file: String, what: String) throws -> String {
        let mapped: MappedFile
        do { mapped = try MappedFile(path: file) } catch { throw AblateError("cannot read the \(what) \(file): \(error)") }
        return SHA256.hash(data: mapped.bytes).map { String(format: "%02x", $0) }.joined()
    }

    static func sha256(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: - Files

    private func writeConfig(_ cell: AblationGrid.Cell) throws {
        var config = grid.config(for: cell)
        config.source = configPath(cell)
        let header = """
            # Generated by `conaclip ablate --grid \(grid.source)` for the cell "\(cell.name)":
            # the base config \(grid.basePath) with the baseline loss\(cell.isBaseline ? "" : " plus this cell's terms").
            # Rerun or resume by hand with:
            #   conaclip train --config \(configPath(cell)) --out \(runPath(cell)) --resume

            """
        try write(header + config.yamlText, to: configPath(cell))
    }

    private func readRecord(_ cell: AblationGrid.Cell) throws -> AblationRecord? {
        let file = recordPath(cell)
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        guard let data = FileManager.default.contents(atPath: file),
              let record = try? JSONDecoder().decode(AblationRecord.self, from: data) else {
            say("warning: \(file) is unreadable; the cell is run again")
            return AblationRecord(cell: cell.name, terms: [], digest: "unreadable", status: .failed, attempts: 0)
        }
        return record
    }

    private func writeRecord(_ record: AblationRecord, for cell: AblationGrid.Cell) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try write(String(decoding: try encoder.encode(record), as: UTF8.self) + "\n", to: recordPath(cell))
    }

    private func writeTables() throws {
        let table = AblationTable(grid: grid, records: records)
        try write(table.markdown(), to: markdownPath)
        try write(table.csv(), to: csvPath)
    }

    /// Moves a cell's run, record and log recorded under another digest to `stale/`.
    private func moveAside(_ cell: AblationGrid.Cell, digest: String?) throws {
        let tag = digest.map { String($0.prefix(12)) } ?? "unrecorded"
        var target = path("stale", "\(cell.slug)-\(tag)")
        var n = 2
        while FileManager.default.fileExists(atPath: target) {
            target = path("stale", "\(cell.slug)-\(tag)-\(n)")
            n += 1
        }
        try createDirectory(target)
        for (source, name) in [(runPath(cell), "run"), (recordPath(cell), "result.json"), (logPath(cell), "train.log")]
        where FileManager.default.fileExists(atPath: source) {
            do {
                try FileManager.default.moveItem(atPath: source, toPath: target + "/" + name)
            } catch {
                throw AblateError("cannot move \(source) aside to \(target): \(error.localizedDescription)")
            }
        }
        say("  \(cell.name): recorded under another digest (the grid, config or inputs changed); moved to \(target)")
        event("stale \(cell.slug) (digest \(tag)) moved to \(target)")
    }

    private func event(_ text: String) {
        let stamp = ISO8601DateFormatter().string(from: Date())
        appendLine("\(stamp) \(text)\n", to: path("ablate.log"))
    }

    private func appendToLog(_ cell: AblationGrid.Cell, _ text: String) {
        appendLine(text, to: logPath(cell))
    }

    /// Appends to a cell's log, best effort: a log that cannot be written never stops the grid.
    private func appendLine(_ text: String, to file: String) {
        if !FileManager.default.fileExists(atPath: file) { _ = FileManager.default.createFile(atPath: file, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: file) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data(text.utf8))
    }

    private func write(_ text: String, to file: String) throws {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
        } catch {
            throw AblateError("cannot write \(file): \(error.localizedDescription)")
        }
    }

    private func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw AblateError("cannot create \(path): \(error.localizedDescription)")
        }
    }
}

/// An exclusive `flock` on a file in the ablation directory, so two
/// `conaclip ablate` processes never train the same cell at once.
struct DirectoryLock {
    private let descriptor: Int32

    init(path: String) throws {
        descriptor = open(path, O_RDWR | O_CREAT, 0o644)
        guard descriptor >= 0 else { throw AblateError("cannot open the lock file \(path): \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw AblateError("another conaclip ablate is running in \((path as NSString).deletingLastPathComponent); "
                + "wait for it or choose another --out")
        }
    }

    func release() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

/// A plain error of `conaclip ablate` (printed without usage help).
struct AblateError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
