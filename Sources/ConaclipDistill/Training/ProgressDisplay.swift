import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Training progress for a person: on a terminal one line that updates in
/// place (step, loss, pairs/s, ETA); otherwise (a log file, a pipe, CI) a
/// plain line every `every` steps and at the last step. Messages (checkpoints
/// written, warnings) go through `message` so they never land in the
/// middle of the updating line.
public final class ProgressDisplay {
    public enum Mode: Sendable, Equatable {
        /// One line rewritten in place with a carriage return.
        case terminal
        /// Plain lines.
        case lines
        /// Nothing (library use, tests).
        case silent
    }

    public let mode: Mode
    public let totalSteps: Int
    public let batchSize: Int
    /// Steps between plain lines.
    public let every: Int
    private let write: (String) -> Void
    private var lineOpen = false
    private var sessionStartStep: Int?
    private var sessionTime = 0.0

    /// `write` receives complete text to output (the default writes to standard output, unbuffered).
    public init(mode: Mode, totalSteps: Int, batchSize: Int, every: Int,
                write: @escaping (String) -> Void = ProgressDisplay.writeToStandardOutput) {
        self.mode = mode
        self.totalSteps = totalSteps
        self.batchSize = batchSize
        self.every = max(1, every)
        self.write = write
    }

    /// `.terminal` when standard output is a terminal, else `.lines`.
    public static func automaticMode() -> Mode {
        isatty(STDOUT_FILENO) == 1 ? .terminal : .lines
    }

    /// Unbuffered write to file descriptor 1.
    public static func writeToStandardOutput(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Reports a finished step (`step` is 1-based: steps completed);
    /// `detail` (e.g. the live workers) is appended to the line.
    public func update(step: Int, metrics: StepMetrics, detail: String? = nil) {
        if sessionStartStep == nil { sessionStartStep = step - 1 }
        sessionTime += metrics.stepTime
        let done = step - (sessionStartStep ?? 0)
        let perStep = done > 0 ? sessionTime / Double(done) : 0
        let eta = Self.duration(perStep * Double(max(0, totalSteps - step)))
        let width = String(totalSteps).count
        let stepText = String(repeating: " ", count: max(0, width - String(step).count)) + String(step)
        switch mode {
        case .silent:
            return
        case .terminal:
            let line = "step \(stepText)/\(totalSteps)  loss \(Self.fixed(metrics.total, 4))  "
                + "\(Self.fixed(metrics.pairsPerSecond, 1)) pairs/s  ETA \(eta)" + (detail.map { "  \($0)" } ?? "")
            write("\r\u{1B}[2K" + line)
            lineOpen = true
            if step == totalSteps { finishLine() }
        case .lines:
            guard step % every == 0 || step == totalSteps else { return }
            write("step \(stepText)/\(totalSteps)  loss \(Self.fixed(metrics.total, 4))  task \(Self.fixed(metrics.task, 4))  "
                + "lr \(String(format: "%.3g", metrics.learningRate))  grad \(Self.fixed(metrics.gradientNorm, 3))  "
                + "\(Self.fixed(metrics.pairsPerSecond, 1)) pairs/s  ETA \(eta)" + (detail.map { "  \($0)" } ?? "") + "\n")
        }
    }

    /// Writes a message on its own line.
    public func message(_ text: String) {
        guard mode != .silent else { return }
        finishLine()
        write(text + "\n")
    }

    /// Ends the updating line, if one is open.
    public func finishLine() {
        if lineOpen { write("\n"); lineOpen = false }
    }

    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }

    /// `1h02m`, `3m05s` or `12s`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }
}
