/// One optimisation step of plain CLIP training (the teacher's pre-training
/// objective, and what `conaclip bench train-step` times): both towers
/// forward, CLIP's symmetric contrastive loss with the learnable logit scale,
/// both towers backward, global-norm clipping, AdamW.
///
/// All work buffers are owned here and reused, so a step at a batch size seen
/// before allocates nothing. Single-threaded apart from BLAS.
public final class CLIPTrainingStep {
    public let model: CLIPModel
    public let optimizer: AdamW
    /// Global-norm clipping threshold (`.infinity` disables clipping).
    public let maxGradientNorm: Double

    private let loss = ContrastiveLoss()
    private var imageEmbeds = FloatBuffer(count: 0)
    private var textEmbeds = FloatBuffer(count: 0)
    private var imageGradient = FloatBuffer(count: 0)
    private var textGradient = FloatBuffer(count: 0)

    public init(model: CLIPModel, optimizer: AdamWConfig, maxGradientNorm: Double = 1.0) {
        self.model = model
        self.optimizer = AdamW(store: model.parameters, config: optimizer)
        self.maxGradientNorm = maxGradientNorm
    }

    /// Wall-clock split of one step, in seconds.
    public struct Timing: Sendable, Equatable {
        public var forward: Double = 0
        public var loss: Double = 0
        public var backward: Double = 0
        public var optimizer: Double = 0
        public var total: Double { forward + loss + backward + optimizer }
    }

    /// What one step measured.
    public struct Outcome: Sendable, Equatable {
        public var loss: Float
        public var gradientNorm: Double
        public var learningRate: Double
        public var timing: Timing
    }

    /// Runs one step on `batch` preprocessed images `[batch, 3, S, S]` and
    /// token rows `[batch, context]`. A non-finite loss or gradient norm
    /// throws before the weights change.
    public func step(pixels: UnsafeBufferPointer<Float>, ids: UnsafeBufferPointer<Int32>, batch: Int,
                     learningRate: Double) throws(TrainingStepError) -> Outcome {
        let d = model.config.projectionDim
        reserve(batch * d)
        var timing = Timing()
        var clock = StepClock()
        let parameters = model.parameters
        parameters.zeroGradients()
        do {
            try model.vision.forward(pixels: pixels, batch: batch,
                                     output: UnsafeMutableBufferPointer(start: imageEmbeds.pointer, count: batch * d))
            try model.text.forward(ids: ids, batch: batch,
                                   output: UnsafeMutableBufferPointer(start: textEmbeds.pointer, count: batch * d))
        } catch { throw .model(error) }
        timing.forward = clock.lap()

        let result: ContrastiveLossResult
        do {
            result = try loss.evaluate(
                image: imageEmbeds.pointer, text: textEmbeds.pointer, rows: batch, dim: d,
                logitScale: model.logitScale,
                gradients: ContrastiveGradientOutput(image: imageGradient.pointer, text: textGradient.pointer))
        } catch { throw .loss(error) }
        guard result.loss.isFinite else { throw .nonFiniteLoss(result.loss) }
        parameters.gradients[model.logitScaleOffset] += result.logitScaleGradient
        timing.loss = clock.lap()

        do {
            try model.vision.backward(dEmbeds: UnsafeBufferPointer(start: imageGradient.pointer, count: batch * d))
            try model.text.backward(dEmbeds: UnsafeBufferPointer(start: textGradient.pointer, count: batch * d))
        } catch { throw .model(error) }
        timing.backward = clock.lap()

        let report: GradientNormReport
        do {
            report = try GradientClipping.clipGlobalNorm(parameters, maxNorm: maxGradientNorm)
        } catch { throw .clipping(error) }
        guard report.isFinite else { throw .nonFiniteGradient(report.norm) }
        do { try optimizer.step(learningRate: learningRate) } catch { throw .optimizer(error) }
        timing.optimizer = clock.lap()
        return Outcome(loss: result.loss, gradientNorm: report.norm, learningRate: learningRate, timing: timing)
    }

    private func reserve(_ count: Int) {
        guard imageEmbeds.count < count else { return }
        imageEmbeds = FloatBuffer(count: count); textEmbeds = FloatBuffer(count: count)
        imageGradient = FloatBuffer(count: count); textGradient = FloatBuffer(count: count)
    }
}

/// Why a training step was refused.
public enum TrainingStepError: Error, CustomStringConvertible {
    case model(ModelError)
    case loss(ContrastiveLossError)
    case clipping(GradientClippingError)
    case optimizer(OptimizerError)
    case nonFiniteLoss(Float)
    case nonFiniteGradient(Double)

    public var description: String {
        switch self {
        case let .model(error): return "model: \(error)"
        case let .loss(error): return "loss: \(error)"
        case let .clipping(error): return "gradient clipping: \(error)"
        case let .optimizer(error): return "optimizer: \(error)"
        case let .nonFiniteLoss(value): return "the loss is \(value); the step was not applied (lower the learning rate or check the inputs)"
        case let .nonFiniteGradient(norm): return "the gradient norm is \(norm); the step was not applied (lower the learning rate or check the inputs)"
        }
    }
}
