import ArgumentParser
import ConaclipCluster
import Foundation
import Synchronization

/// `conaclip train`: single-process training from a YAML config (plain CLIP
/// pre-training without a teacher, ConaCLIP distillation with one).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a student (or pre-train a teacher) from a YAML config, in one process.",
        discussion: """
        The run directory gets metrics.jsonl (one JSON line per logged step), \
        checkpoints/step-NNNNNN/ (a Hugging Face model directory plus the optimizer \
        state; the newest `checkpoint.keep_last` are kept) and final/ (the trained \
        model). Training is deterministic: the same config gives bit-identical \
        weights, and --resume continues from the newest valid checkpoint to the \
        same final weights as a run that never stopped. SIGINT or SIGTERM finishes \
        the current step, writes a checkpoint and exits with status 130 or 143. \
        Try: conaclip train --config configs/smoke.yaml --out runs/smoke
        """)

    @Option(help: "Training config (YAML, e.g. configs/smoke.yaml).")
    var config: String

    @Option(help: "Run directory (default: runs/<config name>).")
    var out: String?

    @Flag(help: "Continue the run in --out from its newest valid checkpoint (starts afresh when it has none).")
    var resume = false

    @Option(help: "Stop after this many steps as if interrupted: write a checkpoint and exit 0 (for time-boxed jobs).")
    var stopAfterStep: Int?

    @Option(help: "Progress display: auto (one updating line on a terminal, plain lines otherwise), lines, or none.")
    var progress: ProgressChoice = .auto

    enum ProgressChoice: String, ExpressibleByArgument, CaseIterable {
        case auto, lines, none
    }

    func validate() throws {
        if let stop = stopAfterStep, stop < 1 { throw ValidationError("--stop-after-step must be at least 1") }
    }

    func run() throws {
        let started = Date()
        let parsed = try TrainingConfig.load(path: config)
        let directory = out ?? "runs/" + ((config as NSString).lastPathComponent as NSString).deletingPathExtension
        let runDirectory = RunDirectory(path: directory)
        if !resume {
            let existing = runDirectory.checkpointSteps()
            if !existing.isEmpty || FileManager.default.fileExists(atPath: runDirectory.finalPath) {
                let what = existing.isEmpty ? "a final model" : "checkpoints at steps " + existing.map(String.init).joined(separator: ", ")
                throw TrainCommandError("\(directory) already holds a run (\(what)); pass --resume to continue it, or choose another --out")
            }
        }
        let mode: ProgressDisplay.Mode
        switch progress {
        case .auto: mode = ProgressDisplay.automaticMode()
        case .lines: mode = .lines
        case .none: mode = .silent
        }
        let say: (String) -> Void = { ProgressDisplay.writeToStandardOutput($0 + "\n") }
        StopSignal.install()
        let session = try TrainingSession(config: parsed, outputDirectory: directory, progressMode: mode,
                                          stopAfterStep: stopAfterStep, say: say)
        let trainer = session.trainer
        let start = resume ? try trainer.resume() : 0
        let outcome = try trainer.run(from: start, shouldStop: { StopSignal.received != 0 })
        trainer.progress.finishLine()
        let elapsed = String(format: "%.1f", Date().timeIntervalSince(started))
        switch outcome {
        case let .completed(steps, finalDirectory, digest, weightsDigest):
            say("done: \(steps) steps in \(elapsed) s; final model \(finalDirectory)")
            say("parameter sha256: \(digest)")
            say("weights digest: \(weightsDigest)")
        case let .stopped(steps, checkpoint):
            let signal = StopSignal.received
            let again = "conaclip train --config \(config) --out \(directory) --resume"
            if signal == 0 {
                say("stopped after step \(steps) as asked (--stop-after-step); checkpoint \(checkpoint)")
                say("continue with: \(again)")
                return
            }
            let name = signal == SIGTERM ? "SIGTERM" : "SIGINT"
            let message = "conaclip train: interrupted by \(name) after step \(steps) of \(session.totalSteps); "
                + "checkpoint \(checkpoint)\ncontinue with: \(again)\n"
            FileHandle.standardError.write(Data(message.utf8))
            throw ExitCode(128 + signal)
        }
    }
}

/// A plain error message for `conaclip train` (printed without usage help).
struct TrainCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The first SIGINT/SIGTERM received, recorded by a signal handler that only
/// stores an atomic and restores the default action, so a second signal ends
/// the process at once. Installed on the main thread before any other thread
/// starts, so every later thread inherits the unblocked mask.
enum StopSignal {
    private static let value = Atomic<Int32>(0)

    /// The signal number received, or 0.
    static var received: Int32 { value.load(ordering: .relaxed) }

    /// Installs the handlers and unblocks both signals: a parent may start
    /// us with them blocked (a process spawned from a Dispatch worker thread
    /// inherits that thread's mask), and a blocked SIGTERM would never stop the run.
    static func install() {
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGINT)
        sigaddset(&unblock, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        for number in [SIGINT, SIGTERM] {
            signal(number) { caught in
                StopSignal.value.store(caught, ordering: .relaxed)
                signal(caught, SIG_DFL)
            }
        }
    }
}
