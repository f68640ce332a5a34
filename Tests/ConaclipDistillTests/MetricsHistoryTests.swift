import Foundation
import Testing
@testable import ConaclipDistill

/// `metrics.jsonl` read back: what `MetricsLog` wrote, terms in logged order,
/// null as NaN, and broken lines counted rather than fatal.
@Suite struct MetricsHistoryTests {
    @Test func readsBackWhatTheLogWrote() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let written = (1...3).map { step in
            StepMetrics(step: step, total: 10 / Double(step), task: 3 / Double(step),
                        terms: [("z-last:kl:0.07", 0.5), ("a-first:fd:1.0", step == 2 ? .nan : 1.5), ("z-last:kl:0.07", 0.25)],
                        learningRate: 1e-3 * Double(step), gradientNorm: 2.5, logitScale: 14.28, stepTime: 0.125,
                        dataTime: 0.0625, pairsPerSecond: 256)
        }
        let log = try MetricsLog(path: path, keepingThrough: 0)
        for metrics in written { try log.append(metrics) }
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"step\":4,\"total\":".utf8))   // cut short by a crash
        try handle.close()

        let history = try MetricsHistory.read(path: path)
        #expect(history.unreadableLines == 1)
        #expect(history.steps.count == 3)
        // Equal as logged lines (null for NaN, the duplicate term renamed with #2, key order kept).
        #expect(history.steps.map(\.jsonLine) == written.map(\.jsonLine))
        #expect(history.termNames == ["z-last:kl:0.07", "a-first:fd:1.0", "z-last:kl:0.07#2"])
        #expect(history.steps[1].terms[1].value.isNaN)
        #expect(history.steps[2].learningRate == 3e-3)
    }

    @Test func aMissingLogIsAnError() {
        #expect(throws: TrainingError.self) { try MetricsHistory.read(path: "/nonexistent/metrics.jsonl") }
    }
}
