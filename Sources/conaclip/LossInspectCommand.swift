import ArgumentParser
import ConaclipCluster
import Foundation

/// `conaclip loss-inspect`: evaluates ConaCLIP loss terms on saved embeddings,
/// prints each term's value and the total as JSON, and optionally writes the
/// gradients of the total w.r.t. the raw student embeddings.
struct LossInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loss-inspect",
        abstract: "Evaluate ConaCLIP loss terms on saved embeddings; print values, write gradients.",
        discussion: """
            The embeddings file is safetensors with student_image, student_text, teacher_image and \
            teacher_text, each [N, d] float32 and raw (rows are L2-normalised by the loss). \
            TYPE is one of \(InteractionType.allowedNames); STRATEGY one of \(SupervisionStrategy.allowedNames). \
            Prints {"terms": [{"term", "value", ...}], "total": ...}; values are unweighted, the total is \
            sum(weight * value).
            """)

    @Option(help: ArgumentHelp("Safetensors file with the four [N, d] raw embeddings.", valueName: "file"))
    var embeddings: String

    @Option(name: .customLong("term"),
            help: ArgumentHelp("A loss term TYPE:STRATEGY:TAU[:WEIGHT] (weight defaults to 1); repeat for several.",
                               valueName: "spec"))
    var terms: [String] = []

    @Flag(help: "Multiply kl and sym-kl terms by tau^2 (Hinton's scaling; off in the canonical definition).")
    var klTauSquared = false

    @Option(help: ArgumentHelp("Write d total / d raw student_image and student_text (float32) to this safetensors file.",
                               valueName: "file"))
    var gradOut: String?

    func validate() throws {
        guard !terms.isEmpty else {
            throw ValidationError("give at least one --term TYPE:STRATEGY:TAU[:WEIGHT], e.g. --term inter-ts:sym-kl:0.07")
        }
    }

    func run() throws {
        var parsed: [LossTerm] = []
        for spec in terms {
            let term = try LossTerm(spec: spec)
            // --kl-tau-squared applies to the KL-family terms only.
            parsed.append(klTauSquared && term.strategy.isKL ? try LossTerm(spec: spec, klTauSquared: true) : term)
        }
        let graph = try LossGraph(terms: parsed)
        let batch = try LossInspectInputs(path: embeddings)
        let result = try graph.evaluate(
            studentImage: batch.studentImage, studentText: batch.studentText,
            teacherImage: batch.teacherImage, teacherText: batch.teacherText, n: batch.n, d: batch.d)

        if let gradOut {
            var writer = SafeTensorsWriter(dtype: .float32, metadata: [
                "producer": "conaclip loss-inspect",
                "terms": parsed.map(\.description).joined(separator: " "),
            ])
            writer.add("student_image", try Tensor(shape: [batch.n, batch.d], scalars: result.studentImageGradient))
            writer.add("student_text", try Tensor(shape: [batch.n, batch.d], scalars: result.studentTextGradient))
            try writer.write(to: gradOut)
        }

        let report = LossInspectReport(
            terms: zip(parsed, result.values).map { term, value in
                LossInspectReport.Term(term: term.spec, type: term.type.rawValue, strategy: term.strategy.rawValue,
                                       tau: term.tau, weight: term.weight, klTauSquared: term.klTauSquared, value: value)
            },
            total: result.total, n: batch.n, d: batch.d)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
        if !result.isFinite {
            throw LossInspectError.nonFinite(path: embeddings)
        }
    }
}

/// The four raw [N, d] embedding matrices read from a safetensors file.
struct LossInspectInputs {
    static let names = ["student_image", "student_text", "teacher_image", "teacher_text"]
    let studentImage: [Float]
    let studentText: [Float]
    let teacherImage: [Float]
    let teacherText: [Float]
    let n: Int
    let d: Int

    init(path: String) throws {
        let file = try SafeTensorsFile(path: path)
        var tensors: [Tensor] = []
        for name in Self.names {
            guard file.entries[name] != nil else {
                throw LossInspectError.missingTensor(path: path, tensor: name, present: file.names)
            }
            let tensor = try file.tensor(named: name)
            guard tensor.shape.count == 2, tensor.shape[0] > 0, tensor.shape[1] > 0 else {
                throw LossInspectError.badShape(path: path, tensor: name, shape: tensor.shape)
            }
            if let first = tensors.first, first.shape != tensor.shape {
                throw LossInspectError.shapesDiffer(path: path, tensor: name, shape: tensor.shape, expected: first.shape)
            }
            tensors.append(tensor)
        }
        studentImage = tensors[0].scalars
        studentText = tensors[1].scalars
        teacherImage = tensors[2].scalars
        teacherText = tensors[3].scalars
        n = tensors[0].shape[0]
        d = tensors[0].shape[1]
    }
}

/// What `loss-inspect` prints.
struct LossInspectReport: Encodable {
    struct Term: Encodable {
        var term: String
        var type: String
        var strategy: String
        var tau: Double
        var weight: Double
        var klTauSquared: Bool
        var value: Double

        enum CodingKeys: String, CodingKey {
            case term, type, strategy, tau, weight, value
            case klTauSquared = "kl_tau_squared"
        }
    }
    var terms: [Term]
    var total: Double
    var n: Int
    var d: Int
}

/// Why `loss-inspect` could not use its embeddings file or its result.
enum LossInspectError: Error, CustomStringConvertible {
    case missingTensor(path: String, tensor: String, present: [String])
    case badShape(path: String, tensor: String, shape: [Int])
    case shapesDiffer(path: String, tensor: String, shape: [Int], expected: [Int])
    case nonFinite(path: String)

    var description: String {
        switch self {
        case let .missingTensor(path, tensor, present):
            return "\(path) has no tensor \(tensor); it needs \(LossInspectInputs.names.joined(separator: ", ")) "
                + "(found: \(present.isEmpty ? "none" : present.joined(separator: ", ")))"
        case let .badShape(path, tensor, shape):
            return "\(path): \(tensor) has shape \(shape); expected [N, d] with N, d > 0"
        case let .shapesDiffer(path, tensor, shape, expected):
            return "\(path): \(tensor) has shape \(shape) but student_image has \(expected); all four must be the same [N, d]"
        case let .nonFinite(path):
            return "the loss or its gradient is not finite for \(path) (are there NaN or infinite values in the embeddings?)"
        }
    }
}
