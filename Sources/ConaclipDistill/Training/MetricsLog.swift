import Foundation

/// One logged step of a training run: a line of `metrics.jsonl`.
public struct StepMetrics: Sendable, Equatable {
    /// Optimiser steps completed (1-based: the first step logs `step: 1`).
    public var step: Int
    public var total: Double
    /// Unweighted task loss.
    public var task: Double
    /// Each distillation term's unweighted value, named by its spec.
    public var terms: [(name: String, value: Double)]
    public var learningRate: Double
    /// Global gradient norm before clipping.
    public var gradientNorm: Double
    /// `exp(logit_scale)` used by the task loss.
    public var logitScale: Double
    /// Wall time of the whole step (batch preparation included), seconds.
    public var stepTime: Double
    /// Of which preparing the batch (reading, decoding, preprocessing, tokenizing).
    public var dataTime: Double
    public var pairsPerSecond: Double
    /// More fields appended to the JSON object, each value already JSON
    /// (the distributed trainer's time split, bytes moved, live workers).
    public var extraFields: [(key: String, json: String)] = []

    public init(step: Int, total: Double, task: Double, terms: [(name: String, value: Double)], learningRate: Double,
                gradientNorm: Double, logitScale: Double, stepTime: Double, dataTime: Double, pairsPerSecond: Double) {
        self.step = step; self.total = total; self.task = task; self.terms = terms; self.learningRate = learningRate
        self.gradientNorm = gradientNorm; self.logitScale = logitScale; self.stepTime = stepTime
        self.dataTime = dataTime; self.pairsPerSecond = pairsPerSecond
    }

    public static func == (a: StepMetrics, b: StepMetrics) -> Bool { a.jsonLine == b.jsonLine }

    /// The JSON object, keys in a fixed order:
    /// `{"step", "total", "task", "terms": {spec: value}, "lr", "grad_norm",
    /// "logit_scale", "step_time", "data_time", "pairs_per_s"}`. Non-finite
    /// numbers are written as null.
    public var jsonLine: String {
        var termFields: [String] = []
        var seen: [String: Int] = [:]
        for term in terms {
            seen[term.name, default: 0] += 1
            let name = seen[term.name] == 1 ? term.name : "\(term.name)#\(seen[term.name] ?? 0)"
            termFields.append("\(Self.quoted(name)):\(Self.number(term.value))")
        }
        return "{\"step\":\(step),\"total\":\(Self.number(total)),\"task\":\(Self.number(task)),"
            + "\"terms\":{\(termFields.joined(separator: ","))},\"lr\":\(Self.number(learningRate)),"
            + "\"grad_norm\":\(Self.number(gradientNorm)),\"logit_scale\":\(Self.number(logitScale)),"
            + "\"step_time\":\(Self.number(stepTime)),\"data_time\":\(Self.number(dataTime)),"
            + "\"pairs_per_s\":\(Self.number(pairsPerSecond))"
            + extraFields.map { ",\(Self.quoted($0.key)):\($0.json)" }.joined() + "}"
    }

    public static func number(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }

    public static func quoted(_ text: String) -> String { JSONStringLiteral.quoted(text) }
}

/// The run's `metrics.jsonl`: one JSON object per logged step, appended and
/// flushed line by line, so a crash loses at most the line being written.
/// On resume, step lines after the resumed step are dropped first, so the
/// log of a resumed run reads like the log of an uninterrupted one; event
/// lines (objects with an `"event"` key, such as the distributed trainer's
/// membership events) are history and are kept.
public final class MetricsLog {
    public let path: String
    private let handle: FileHandle

    /// Opens `path` for appending (creating it), keeping only the lines
    /// whose `step` is at most `keepingThrough` (0 for a fresh run).
    public init(path: String, keepingThrough step: Int) throws(TrainingError) {
        self.path = path
        let manager = FileManager.default
        do {
            var body = ""
            if manager.fileExists(atPath: path) {
                let text = try String(contentsOfFile: path, encoding: .utf8)
                body = text.split(separator: "\n").filter { line in
                    guard let data = line.data(using: .utf8),
                          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return false }
                    if object["event"] != nil { return true }
                    guard let lineStep = object["step"] as? Int else { return false }
                    return lineStep <= step
                }.map { $0 + "\n" }.joined()
            }
            try Data(body.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .io(path: path, reason: "cannot prepare the metrics log: \((error as NSError).localizedDescription)")
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw .io(path: path, reason: "cannot open the metrics log for writing")
        }
        self.handle = handle
        do { _ = try handle.seekToEnd() } catch {
            throw .io(path: path, reason: "cannot seek to the end of the metrics log")
        }
    }

    deinit { try? handle.close() }

    /// Appends one line.
    public func append(_ metrics: StepMetrics) throws(TrainingError) {
        try append(line: metrics.jsonLine)
    }

    /// Appends one JSON object (given as its text, without a line feed).
    public func append(line: String) throws(TrainingError) {
        do {
            try handle.write(contentsOf: Data((line + "\n").utf8))
        } catch {
            throw .io(path: path, reason: "cannot append to the metrics log: \((error as NSError).localizedDescription)")
        }
    }
}

/// A `metrics.jsonl` read back, for reports and plots.
public struct MetricsHistory: Sendable, Equatable {
    /// The logged steps in file order.
    public var steps: [StepMetrics]
    /// Lines that were not a metrics object (e.g. a line cut short by a crash).
    public var unreadableLines: Int

    public init(steps: [StepMetrics], unreadableLines: Int) {
        self.steps = steps; self.unreadableLines = unreadableLines
    }

    /// Distillation term names in the order the log lists them.
    public var termNames: [String] {
        var seen: Set<String> = []
        var names: [String] = []
        for step in steps {
            for term in step.terms where seen.insert(term.name).inserted { names.append(term.name) }
        }
        return names
    }

    /// Reads `path`. Numbers written as null (non-finite) come back as NaN;
    /// terms keep the order of their keys on the line (`jsonLine`'s order).
    public static func read(path: String) throws(TrainingError) -> MetricsHistory {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .io(path: path, reason: "cannot read the metrics log: \((error as NSError).localizedDescription)")
        }
        var steps: [StepMetrics] = []
        var unreadable = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if let metrics = parse(String(line)) { steps.append(metrics) } else if !isEvent(String(line)) { unreadable += 1 }
        }
        return MetricsHistory(steps: steps, unreadableLines: unreadable)
    }

    /// Whether a line is an event (`{"event": ...}`, e.g. the distributed
    /// trainer's membership events), which is not a step.
    static func isEvent(_ line: String) -> Bool {
        ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?["event"] != nil
    }

    /// One line as written by `StepMetrics.jsonLine`, or nil (events included).
    static func parse(_ line: String) -> StepMetrics? {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
              object["event"] == nil, let step = object["step"] as? Int else { return nil }
        func number(_ key: String, in dictionary: [String: Any]) -> Double {
            (dictionary[key] as? NSNumber)?.doubleValue ?? .nan
        }
        var terms: [(name: String, value: Double)] = []
        if let termObject = object["terms"] as? [String: Any] {
            // JSON objects are unordered once parsed; the key's position on the line restores the logged order.
            let termsStart = line.range(of: "\"terms\":")?.upperBound ?? line.startIndex
            let ordered = termObject.keys.sorted { a, b in
                let pa = line.range(of: StepMetrics.quoted(a) + ":", range: termsStart..<line.endIndex)?.lowerBound ?? line.endIndex
                let pb = line.range(of: StepMetrics.quoted(b) + ":", range: termsStart..<line.endIndex)?.lowerBound ?? line.endIndex
                return pa < pb || (pa == pb && a < b)
            }
            terms = ordered.map { ($0, number($0, in: termObject)) }
        }
        return StepMetrics(step: step, total: number("total", in: object), task: number("task", in: object), terms: terms,
                           learningRate: number("lr", in: object), gradientNorm: number("grad_norm", in: object),
                           logitScale: number("logit_scale", in: object), stepTime: number("step_time", in: object),
                           dataTime: number("data_time", in: object), pairsPerSecond: number("pairs_per_s", in: object))
    }
}
