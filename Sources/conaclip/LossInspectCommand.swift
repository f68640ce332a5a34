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
            sum(weight * value). With --config, the terms, kl_tau_squared and the task loss come from a \
            training config's loss section instead of --term: the task loss (inter-ss symmetric InfoNCE \
            at tau = 1 / min(exp(logit_scale), 100), exactly as training computes it) is reported first \
            as the term "task" with its weight loss.task_weight (left out when that is 0). It needs the \
            student's logit_scale: --logit-scale, or by default the config's student preset's \
            logit_scale_init_value (the value training starts from); the task entry also gives \
            d total / d logit_scale.
            """)

    @Option(help: ArgumentHelp("Safetensors file with the four [N, d] raw embeddings.", valueName: "file"))
    var embeddings: String

    @Option(name: .customLong("term"),
            help: ArgumentHelp("A loss term TYPE:STRATEGY:TAU[:WEIGHT] (weight defaults to 1); repeat for several.",
                               valueName: "spec"))
    var terms: [String] = []

    @Option(help: ArgumentHelp("Take the terms and the task loss from this training config's loss section (instead of --term).",
                               valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("The student's raw logit_scale for the task loss of --config (default: the preset's logit_scale_init_value).",
                               valueName: "value"))
    var logitScale: Float?

    @Flag(help: "Multiply kl and sym-kl terms by tau^2 (Hinton's scaling; off in the canonical definition).")
    var klTauSquared = false

    @Option(help: ArgumentHelp("Write d total / d raw student_image and student_text (float32) to this safetensors file.",
                               valueName: "file"))
    var gradOut: String?

    func validate() throws {
        if config != nil {
            guard terms.isEmpty else {
                throw ValidationError("give the terms either with --term or with --config (its loss section), not both")
            }
            guard !klTauSquared else {
                throw ValidationError("--kl-tau-squared comes from the config's loss.kl_tau_squared with --config")
            }
            if let logitScale, !logitScale.isFinite {
                throw ValidationError("--logit-scale must be a finite number")
            }
        } else {
            guard !terms.isEmpty else {
                throw ValidationError("give at least one --term TYPE:STRATEGY:TAU[:WEIGHT], e.g. --term inter-ts:sym-kl:0.07, "
                    + "or --config FILE")
            }
            guard logitScale == nil else {
                throw ValidationError("--logit-scale is for the task loss, which only --config includes")
            }
        }
    }

    /// The distillation terms, and the task loss's weight and logit scale (nil: no task loss).
    func lossSetup() throws -> (terms: [LossTerm], task: (weight: Double, logitScale: Float)?) {
        guard let config else {
            var parsed: [LossTerm] = []
            for spec in terms {
                let term = try LossTerm(spec: spec)
                // --kl-tau-squared applies to the KL-family terms only.
                parsed.append(klTauSquared && term.strategy.isKL ? try LossTerm(spec: spec, klTauSquared: true) : term)
            }
            return (parsed, nil)
        }
        let training = try TrainingConfig.load(path: config)
        let loss = training.loss
        guard loss.taskWeight > 0 || !loss.terms.isEmpty else {
            throw LossInspectError.emptyLoss(config: config)
        }
        guard loss.taskWeight > 0 else { return (loss.terms, nil) }
        let scale: Float
        if let logitScale {
            scale = logitScale
        } else {
            do {
                scale = try ModelPreset.load(path: training.model).logitScaleInitValue
            } catch {
                throw LossInspectError.noLogitScale(config: config, preset: training.model, reason: "\(error)")
            }
        }
        return (loss.terms, (loss.taskWeight, scale))
    }

    func run() throws {
        let (parsed, task) = try lossSetup()
        let graph = try LossGraph(terms: parsed)
        let batch = try LossInspectInputs(path: embeddings)
        let result = try graph.evaluate(
            studentImage: batch.studentImage, studentText: batch.studentText,
            teacherImage: batch.teacherImage, teacherText: batch.teacherText, n: batch.n, d: batch.d)
        var imageGradient = result.studentImageGradient, textGradient = result.studentTextGradient
        var total = result.total
        var reported: [LossInspectReport.Term] = []

        // The task loss, as the training step computes it, added to the graph's gradient.
        if let task {
            let loss = ContrastiveLoss()
            let value = try batch.studentImage.withUnsafeBufferPointer { image in
                try batch.studentText.withUnsafeBufferPointer { text in
                    try imageGradient.withUnsafeMutableBufferPointer { dImage in
                        try textGradient.withUnsafeMutableBufferPointer { dText in
                            guard let x = image.baseAddress, let y = text.baseAddress,
                                  let dx = dImage.baseAddress, let dy = dText.baseAddress else {
                                throw LossInspectError.badShape(path: embeddings, tensor: "student_image", shape: [batch.n, batch.d])
                            }
                            return try loss.evaluate(
                                image: x, text: y, rows: batch.n, dim: batch.d, logitScale: task.logitScale,
                                gradients: ContrastiveGradientOutput(image: dx, text: dy, weight: Float(task.weight), accumulate: true))
                        }
                    }
                }
            }
            total += task.weight * Double(value.loss)
            reported.append(LossInspectReport.Term(
                term: "task", type: InteractionType.interSS.rawValue, strategy: SupervisionStrategy.infonce.rawValue,
                tau: 1 / Double(value.scale), weight: task.weight, klTauSquared: false, value: Double(value.loss),
                logitScale: Double(task.logitScale), logitScaleGradient: Double(value.logitScaleGradient),
                scaleClamped: value.isScaleClamped))
        }

        if let gradOut {
            var writer = SafeTensorsWriter(dtype: .float32, metadata: [
                "producer": "conaclip loss-inspect",
                "terms": ((task == nil ? [] : ["task"]) + parsed.map(\.description)).joined(separator: " "),
            ])
            writer.add("student_image", try Tensor(shape: [batch.n, batch.d], scalars: imageGradient))
            writer.add("student_text", try Tensor(shape: [batch.n, batch.d], scalars: textGradient))
            try writer.write(to: gradOut)
        }

        let report = LossInspectReport(
            terms: reported + zip(parsed, result.values).map { term, value in
                LossInspectReport.Term(term: term.spec, type: term.type.rawValue, strategy: term.strategy.rawValue,
                                       tau: term.tau, weight: term.weight, klTauSquared: term.klTauSquared, value: value)
            },
            total: total, n: batch.n, d: batch.d)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
        if !result.isFinite || !total.isFinite || !(imageGradient + textGradient).allSatisfy(\.isFinite) {
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
        /// The task term only: the raw logit_scale, d total / d logit_scale, and whether exp(logit_scale) hit 100.
        var logitScale: Double? = nil
        var logitScaleGradient: Double? = nil
        var scaleClamped: Bool? = nil

        enum CodingKeys: String, CodingKey {
            case term, type, strategy, tau, weight, value
            case klTauSquared = "kl_tau_squared"
            case logitScale = "logit_scale", logitScaleGradient = "logit_scale_gradient", scaleClamped = "scale_clamped"
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
    case emptyLoss(config: String)
    case noLogitScale(config: String, preset: String, reason: String)

    var description: String {
        switch self {
        case let .missingTensor(path, tensor, present):
            return "\(path) has no tensor \(tensor); it needs \(LossInspectInputs.names.joined(separator: ", ")) "
                + "(found: \(present.isEmpty ? "none" : present.joined(separator: ", ")))"
        case let .badShape(path, tensor, shape):
            return "\(path): \(tensor) has shape \(shape); expected [N, d] with N, d > 0"
        case let .shapesDiffer(path, tensor, shape, expected):
            return "\(path): \(tensor) has shape \(shape) but student_image has \(expected); all four must be the same [N, d]"
        case let .emptyLoss(config):
            return "\(config): the loss section has task_weight 0 and no terms, so there is nothing to evaluate"
        case let .noLogitScale(config, preset, reason):
            return "\(config): the task loss needs the student's logit_scale, and its preset \(preset) cannot be read "
                + "(\(reason)); give --logit-scale VALUE"
        case let .nonFinite(path):
            return "the loss or its gradient is not finite for \(path) (are there NaN or infinite values in the embeddings?)"
        }
    }
}
