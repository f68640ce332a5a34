import Foundation
import Testing
import ConaclipModels

/// Runs the real `conaclip loss-inspect` binary on the loss reference
/// fixture's inputs and compares with the torch reference values and
/// gradients (Tests/ConaclipDistillTests/Fixtures/loss-reference.json).
@Suite struct LossInspectTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let term: String
            let kl_tau_squared: Bool
            let value: Double
            let grad_student_image: [Double]
            let grad_student_text: [Double]
        }
        struct Combination: Decodable {
            let terms: [String]
            let values: [Double]
            let total: Double
            let grad_student_image: [Double]
            let grad_student_text: [Double]
        }
        let n: Int
        let d: Int
        let inputs: [String: [Double]]
        let cases: [Case]
        let combination: Combination
    }

    struct Output: Decodable {
        struct Term: Decodable {
            let term: String
            let value: Double
        }
        let terms: [Term]
        let total: Double
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    static func run(_ arguments: [String], in directory: URL, timeout: TimeInterval = 60) throws -> CLIRunner.Run {
        try CLIRunner.run(arguments, in: directory, timeout: timeout)
    }

    static func temporaryDirectory() throws -> URL { try CLIRunner.temporaryDirectory() }

    static func loadFixture() throws -> Fixture {
        let url = root.appendingPathComponent("ConaclipDistillTests/Fixtures/loss-reference.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    static func writeEmbeddings(_ fixture: Fixture, to url: URL, skipping skipped: String? = nil) throws {
        var writer = SafeTensorsWriter(dtype: .float32)
        for name in ["student_image", "student_text", "teacher_image", "teacher_text"] where name != skipped {
            writer.add(name, try Tensor(shape: [fixture.n, fixture.d], scalars: (fixture.inputs[name] ?? []).map(Float.init)))
        }
        try writer.write(to: url.path)
    }

    /// Elementwise: |g - r| <= 1e-3 |r| + 1e-5 max|r|.
    static func gradientsAgree(_ got: [Float], _ reference: [Double]) -> Bool {
        let scale = reference.map(abs).max() ?? 0
        return got.count == reference.count
            && zip(got, reference).allSatisfy { g, r in abs(Double(g) - r) <= 1e-3 * abs(r) + 1e-5 * scale }
    }

    @Test func combinationMatchesTheReference() throws {
        let fixture = try Self.loadFixture()
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("embeddings.safetensors")
        let gradients = directory.appendingPathComponent("gradients.safetensors")
        try Self.writeEmbeddings(fixture, to: input)

        let reference = fixture.combination
        let arguments = ["loss-inspect", "--embeddings", input.path, "--grad-out", gradients.path]
            + reference.terms.flatMap { ["--term", $0] }
        let run = try Self.run(arguments, in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        let output = try JSONDecoder().decode(Output.self, from: Data(run.stdout.utf8))
        #expect(output.terms.count == reference.terms.count)
        for (got, want) in zip(output.terms, reference.values) {
            #expect(abs(got.value - want) <= 1e-4 * abs(want), "\(got.term)")
        }
        #expect(abs(output.total - reference.total) <= 1e-4 * abs(reference.total))

        let file = try SafeTensorsFile(path: gradients.path)
        let image = try file.tensor(named: "student_image"), text = try file.tensor(named: "student_text")
        #expect(image.shape == [fixture.n, fixture.d] && text.shape == [fixture.n, fixture.d])
        #expect(file.entries["student_image"]?.dtype == .f32)
        #expect(Self.gradientsAgree(image.scalars, reference.grad_student_image))
        #expect(Self.gradientsAgree(text.scalars, reference.grad_student_text))
    }

    @Test func everyReferenceTermInOneRunWithTauSquared() throws {
        let fixture = try Self.loadFixture()
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("embeddings.safetensors")
        try Self.writeEmbeddings(fixture, to: input)
        for tauSquared in [false, true] {
            // With --kl-tau-squared, kl/sym-kl terms take their tau^2 reference;
            // the other strategies are unaffected.
            let cases = fixture.cases.filter { c in
                let isKL = c.term.contains(":kl:") || c.term.contains(":sym-kl:")
                return c.kl_tau_squared == (tauSquared && isKL)
            }
            var arguments = ["loss-inspect", "--embeddings", input.path] + cases.flatMap { ["--term", $0.term] }
            if tauSquared { arguments.append("--kl-tau-squared") }
            let run = try Self.run(arguments, in: directory)
            #expect(run.status == 0, "\(run.stderr)")
            let output = try JSONDecoder().decode(Output.self, from: Data(run.stdout.utf8))
            #expect(output.terms.count == cases.count && cases.count == 40)
            for (got, want) in zip(output.terms, cases) {
                #expect(abs(got.value - want.value) <= 1e-4 * abs(want.value), "\(want.term) tau^2=\(tauSquared)")
            }
            let total = cases.reduce(0) { $0 + $1.value }
            #expect(abs(output.total - total) <= 1e-4 * abs(total))
        }
    }

    @Test func refusesBadTermsAndIncompleteFilesWithUsefulMessages() throws {
        let fixture = try Self.loadFixture()
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let complete = directory.appendingPathComponent("complete.safetensors")
        let partial = directory.appendingPathComponent("partial.safetensors")
        try Self.writeEmbeddings(fixture, to: complete)
        try Self.writeEmbeddings(fixture, to: partial, skipping: "teacher_text")

        let undefined = try Self.run(["loss-inspect", "--embeddings", complete.path, "--term", "intra-ss:infonce:0.1"], in: directory)
        #expect(undefined.status != 0)
        #expect(undefined.stderr.contains("intra-ss:infonce is undefined"), "\(undefined.stderr)")

        let unknown = try Self.run(["loss-inspect", "--embeddings", complete.path, "--term", "cross:sd:0.1"], in: directory)
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("intra-ts, intra-ss, inter-ts, inter-ss"), "\(unknown.stderr)")

        let none = try Self.run(["loss-inspect", "--embeddings", complete.path], in: directory)
        #expect(none.status != 0)
        #expect(none.stderr.contains("--term"), "\(none.stderr)")

        let missing = try Self.run(["loss-inspect", "--embeddings", partial.path, "--term", "inter-ss:sd:1"], in: directory)
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no tensor teacher_text"), "\(missing.stderr)")
        #expect(missing.stdout.isEmpty)
    }
}

/// A test precondition that failed (binary missing, process hung).
