import ArgumentParser
import ConaclipCluster
import Foundation

/// `conaclip ablate`: trains the baseline and every cell of an ablation grid,
/// evaluates each, and writes the table of mean recall (the paper's Table 1).
struct AblateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ablate",
        abstract: "Run an ablation grid (baseline + each loss term, resumably) and write its recall table as Markdown and CSV.",
        discussion: """
        The grid (see configs/ablation.yaml) names a base training config, the baseline loss and the \
        cells, each one or more TYPE:STRATEGY:TAU[:WEIGHT] terms added to the baseline. Every run \
        trains in a child `conaclip train` process from a generated config (DIR/configs/), is \
        evaluated on the grid's eval split, and is recorded in DIR/results/ with a digest of its \
        config, evaluation settings and inputs (teacher weights, tokenizer, presets, data). A run \
        recorded under the same digest is not rerun; an interrupted one resumes from its newest \
        checkpoint; one recorded under another digest is moved to DIR/stale/ and run again. The \
        table is rewritten after every run: DIR/ablation.md and DIR/ablation.csv. SIGINT or SIGTERM \
        lets the running cells write a checkpoint, then exits with status 130 or 143. \
        Try: conaclip ablate --grid configs/ablation-tiny.yaml --out runs/ablation-tiny
        """)

    @Option(help: "Ablation grid (YAML, e.g. configs/ablation.yaml).")
    var grid: String

    @Option(help: "Ablation directory (default: runs/<grid name>).")
    var out: String?

    @Option(help: "Cells trained at the same time, each in its own single-threaded process.")
    var jobs = 1

    @Option(help: "Stop each cell after this many steps as if interrupted (for time-boxed jobs); run again to continue.")
    var stopAfterStep: Int?

    @Flag(help: "Only say which runs are recorded and which would be trained (and write the configs and table).")
    var dryRun = false

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        if let stop = stopAfterStep, stop < 1 { throw ValidationError("--stop-after-step must be at least 1") }
    }

    func run() throws {
        BLAS.setThreads(1)
        let parsed = try AblationGrid.load(path: grid)
        let directory = out ?? "runs/" + ((grid as NSString).lastPathComponent as NSString).deletingPathExtension
        StopSignal.install()
        let runner = AblationRunner(grid: parsed, directory: directory, executable: try CacheBuildCommand.executablePath(),
                                    jobs: jobs, stopAfterStep: stopAfterStep) { print($0) }
        let summary = try runner.run(dryRun: dryRun)
        if !dryRun, let table = try? String(contentsOfFile: runner.markdownPath, encoding: .utf8) {
            print("")
            print(table, terminator: "")
        }
        print("")
        print("ablate: \(summary.trained) trained, \(summary.recorded) recorded (not rerun), "
            + "\(summary.unfinished) unfinished, \(summary.failed.count) failed; "
            + "table \(runner.markdownPath) and \(runner.csvPath)")
        if summary.interruptedBy != 0 {
            FileHandle.standardError.write(Data("conaclip ablate: interrupted; run the same command again to continue\n".utf8))
            throw ExitCode(128 + summary.interruptedBy)
        }
        if !summary.failed.isEmpty {
            throw AblateError("\(summary.failed.count) cell(s) failed: \(summary.failed.joined(separator: ", ")); "
                + "their logs are in \(directory)/logs; run the same command again to retry them")
        }
    }
}
