import Foundation
import Testing
import ConaclipModels

/// `conaclip loss-inspect --config`: the terms and the task loss of a
/// training config's loss section, checked against the torch reference for
/// the terms, against the loss graph's own inter-ss InfoNCE at the same
/// temperature for the task loss, and against finite differences for
/// d total / d logit_scale.
@Suite struct LossInspectConfigTests {
    struct Output: Decodable {
        struct Term: Decodable {
            let term: String
            let type: String
            let strategy: String
            let tau: Double
            let weight: Double
            let value: Double
            let logit_scale: Double?
            let logit_scale_gradient: Double?
            let scale_clamped: Bool?
        }
        let terms: [Term]
        let total: Double
    }

    struct Gradients {
        let image: [Float]
        let text: [Float]
    }

    /// The reference combination's terms as a config's loss section.
    static func writeConfig(in directory: URL, name: String, taskWeight: Double,
                            model: String = "not-read.yaml", terms: [String]) throws -> String {
        let list = terms.map { "\"\($0)\"" }.joined(separator: ", ")
        try """
            model: \(model)
            teacher: t
            loss: {task_weight: \(taskWeight), terms: [\(list)]}
            """.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        return directory.appendingPathComponent(name).path
    }

    static func inspect(_ arguments: [String], embeddings: URL, in directory: URL) throws -> (Output, Gradients) {
        let gradients = directory.appendingPathComponent("g-\(UUID().uuidString).safetensors")
        let run = try LossInspectTests.run(["loss-inspect", "--embeddings", embeddings.path, "--grad-out", gradients.path] + arguments,
                                           in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        let output = try JSONDecoder().decode(Output.self, from: Data(run.stdout.utf8))
        let file = try SafeTensorsFile(path: gradients.path)
        return (output, Gradients(image: try file.tensor(named: "student_image").scalars,
                                  text: try file.tensor(named: "student_text").scalars))
    }

    static func close(_ a: [Float], _ b: [Float], relative: Float = 1e-4) -> Bool {
        let scale = b.map(abs).max() ?? 0
        return a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= relative * abs($1) + 1e-6 * scale }
    }

    @Test func termsFromTheConfigMatchTheReference() throws {
        let fixture = try LossInspectTests.loadFixture()
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let embeddings = directory.appendingPathComponent("e.safetensors")
        try LossInspectTests.writeEmbeddings(fixture, to: embeddings)
        let reference = fixture.combination
        let config = try Self.writeConfig(in: directory, name: "terms.yaml", taskWeight: 0, terms: reference.terms)

        let (output, gradients) = try Self.inspect(["--config", config], embeddings: embeddings, in: directory)
        let specs = try reference.terms.map { try LossTermSpec.canonical($0) }
        #expect(output.terms.map(\.term) == specs)
        for (got, want) in zip(output.terms, reference.values) {
            #expect(abs(got.value - want) <= 1e-4 * abs(want), "\(got.term)")
        }
        #expect(abs(output.total - reference.total) <= 1e-4 * abs(reference.total))
        #expect(LossInspectTests.gradientsAgree(gradients.image, reference.grad_student_image))
        #expect(LossInspectTests.gradientsAgree(gradients.text, reference.grad_student_text))
    }

    @Test func theTaskLossIsInterSSInfoNCEAtTheLogitScalesTemperature() throws {
        let fixture = try LossInspectTests.loadFixture()
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let embeddings = directory.appendingPathComponent("e.safetensors")
        try LossInspectTests.writeEmbeddings(fixture, to: embeddings)
        let terms = fixture.combination.terms
        let config = try Self.writeConfig(in: directory, name: "task.yaml", taskWeight: 0.5, terms: terms)
        let onlyTerms = try Self.writeConfig(in: directory, name: "terms.yaml", taskWeight: 0, terms: terms)

        let logitScale: Float = 1.6
        let (output, gradients) = try Self.inspect(["--config", config, "--logit-scale", "\(logitScale)"],
                                                   embeddings: embeddings, in: directory)
        let task = try #require(output.terms.first)
        #expect(task.term == "task" && task.type == "inter-ss" && task.strategy == "infonce" && task.weight == 0.5)
        #expect(output.terms.count == terms.count + 1)
        let tau = 1 / exp(Double(logitScale))
        #expect(abs(task.tau - tau) <= 1e-6 * tau)
        #expect(task.scale_clamped == false)

        // The same loss through the loss graph: inter-ss infonce at that tau.
        let (alone, aloneGradients) = try Self.inspect(["--term", "inter-ss:infonce:\(tau)"], embeddings: embeddings, in: directory)
        #expect(abs(task.value - alone.total) <= 1e-5 * alone.total, "task \(task.value), inter-ss infonce \(alone.total)")
        let (rest, restGradients) = try Self.inspect(["--config", onlyTerms], embeddings: embeddings, in: directory)
        #expect(abs(output.total - (rest.total + 0.5 * alone.total)) <= 1e-5 * output.total)
        let expectedImage = zip(restGradients.image, aloneGradients.image).map { $0 + 0.5 * $1 }
        let expectedText = zip(restGradients.text, aloneGradients.text).map { $0 + 0.5 * $1 }
        #expect(Self.close(gradients.image, expectedImage))
        #expect(Self.close(gradients.text, expectedText))

        // d total / d logit_scale against a central difference of the printed totals.
        let h: Float = 0.01
        let (up, _) = try Self.inspect(["--config", config, "--logit-scale", "\(logitScale + h)"], embeddings: embeddings, in: directory)
        let (down, _) = try Self.inspect(["--config", config, "--logit-scale", "\(logitScale - h)"], embeddings: embeddings, in: directory)
        let numeric = (up.total - down.total) / Double(2 * h)
        let analytic = try #require(task.logit_scale_gradient)
        #expect(abs(numeric - analytic) <= 2e-3 * abs(analytic) + 1e-4, "numeric \(numeric), analytic \(analytic)")
        #expect(abs(analytic) > 1e-3, "the check needs a gradient that is not ~0")
    }

    @Test func theDefaultLogitScaleIsThePresetsAndAScaleAbove100IsClamped() throws {
        let fixture = try LossInspectTests.loadFixture()
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let embeddings = directory.appendingPathComponent("e.safetensors")
        try LossInspectTests.writeEmbeddings(fixture, to: embeddings)
        let preset = CLIRunner.repositoryRoot.appendingPathComponent("configs/models/tiny.yaml").path
        let config = try Self.writeConfig(in: directory, name: "c.yaml", taskWeight: 1, model: preset, terms: [])

        let (initial, _) = try Self.inspect(["--config", config], embeddings: embeddings, in: directory)
        let task = try #require(initial.terms.first)
        #expect(initial.terms.count == 1)
        #expect(abs((task.logit_scale ?? 0) - 2.6592) < 1e-6)
        #expect(abs(initial.total - task.value) <= 1e-12)

        let (clamped, _) = try Self.inspect(["--config", config, "--logit-scale", "5"], embeddings: embeddings, in: directory)
        let capped = try #require(clamped.terms.first)
        #expect(capped.scale_clamped == true && abs(capped.tau - 0.01) < 1e-9 && capped.logit_scale_gradient == 0)
    }

    @Test func conflictingOptionsAreRefused() throws {
        let fixture = try LossInspectTests.loadFixture()
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let embeddings = directory.appendingPathComponent("e.safetensors")
        try LossInspectTests.writeEmbeddings(fixture, to: embeddings)
        let config = try Self.writeConfig(in: directory, name: "c.yaml", taskWeight: 1, terms: ["intra-ts:fd:1"])
        let empty = try Self.writeConfig(in: directory, name: "e.yaml", taskWeight: 0, terms: [])
        let cases: [([String], String)] = [
            (["--config", config, "--term", "intra-ts:fd:1"], "not both"),
            (["--config", config, "--kl-tau-squared"], "loss.kl_tau_squared"),
            (["--term", "intra-ts:fd:1", "--logit-scale", "2"], "only --config includes"),
            (["--config", config], "cannot be read"),   // model: not-read.yaml does not exist and no --logit-scale
            (["--config", empty], "nothing to evaluate"),
        ]
        for (arguments, message) in cases {
            let run = try LossInspectTests.run(["loss-inspect", "--embeddings", embeddings.path] + arguments, in: directory)
            #expect(run.status != 0, "\(arguments)")
            #expect(run.stderr.contains(message), "\(arguments): \(run.stderr)")
        }
    }
}

/// The canonical spec a term string parses to (as loss-inspect prints it).
enum LossTermSpec {
    static func canonical(_ spec: String) throws -> String {
        // TYPE:STRATEGY:TAU[:WEIGHT] with numbers as Swift prints Doubles and weight 1 left out.
        let fields = spec.split(separator: ":").map(String.init)
        guard fields.count >= 3, let tau = Double(fields[2]) else { throw CLITestError("bad spec \(spec)") }
        var out = "\(fields[0]):\(fields[1]):\(tau)"
        if fields.count == 4, let weight = Double(fields[3]), weight != 1 { out += ":\(weight)" }
        return out
    }
}
