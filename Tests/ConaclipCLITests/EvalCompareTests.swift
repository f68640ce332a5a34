import Foundation
import Testing

/// `conaclip eval` with several `--model`s: one run, a row per model, and
/// encoding speed relative to the first model.
@Suite struct EvalCompareTests {
    struct Comparison: Decodable {
        var models: [EvalCommandTests.Report]
        var relative_to: String
        var image_speedup: [Double]
        var text_speedup: [Double]
    }

    @Test func severalModelsAreComparedInOneRun() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let items = EvalCommandTests.items(imageDirectory: EvalCommandTests.fixture.appendingPathComponent("images").path)
        let manifest = directory.appendingPathComponent("pairs.jsonl")
        try EvalCommandTests.writeManifest(items, to: manifest)
        // A second, differently shaped model with the fixture's tokenizer.
        let made = try CLIRunner.run(["model", "init", "--config", CLIRunner.repositoryRoot.appendingPathComponent("configs/models/tiny.yaml").path,
                                      "--tokenizer", EvalCommandTests.model, "--out", "student"], in: directory)
        #expect(made.status == 0, "\(made.stderr)")
        let student = directory.appendingPathComponent("student").path

        let run = try CLIRunner.run(["eval", "--model", EvalCommandTests.model, "--model", student, "--data", manifest.path, "--json"],
                                    in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        let comparison = try JSONDecoder().decode(Comparison.self, from: Data(run.stdout.utf8))
        #expect(comparison.models.map(\.model) == [EvalCommandTests.model, student])
        #expect(comparison.relative_to == EvalCommandTests.model)
        #expect(comparison.image_speedup.count == 2 && comparison.image_speedup[0] == 1 && comparison.text_speedup[0] == 1)
        let first = comparison.models[0], second = comparison.models[1]
        #expect(abs(comparison.image_speedup[1] - second.images_per_second / first.images_per_second) < 1e-9)
        #expect(abs(comparison.text_speedup[1] - second.texts_per_second / first.texts_per_second) < 1e-9)
        #expect(first.parameters.total != second.parameters.total)

        // Each model's recalls are those of evaluating it alone.
        for report in comparison.models {
            let alone = try CLIRunner.run(["eval", "--model", report.model, "--data", manifest.path, "--json"], in: directory)
            #expect(alone.status == 0, "\(alone.stderr)")
            let single = try EvalCommandTests.decode(alone)
            #expect(single.t2i == report.t2i && single.i2t == report.i2t && single.mean_recall == report.mean_recall)
            #expect(single.count == report.count && single.size_bytes == report.size_bytes)
        }

        let table = try CLIRunner.run(["eval", "--model", EvalCommandTests.model, "--model", student, "--data", manifest.path],
                                      in: directory)
        #expect(table.status == 0, "\(table.stderr)")
        let lines = table.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("model ") && $0.contains("images/s") && $0.contains("mean") })
        #expect(lines.contains { $0.hasPrefix(EvalCommandTests.model + " ") && $0.contains(" 1.00 ") })
        #expect(lines.contains { $0.hasPrefix(student + " ") })
        #expect(table.stdout.contains("relative to the first model"))
    }
}
