/// Why a training run stopped with an error. Each case says what failed and,
/// where the user can act, what to do.
public enum TrainingError: Error, CustomStringConvertible {
    case config(TrainingConfigError)
    case model(ModelError)
    case lossGraph(LossGraphError)
    case taskLoss(ContrastiveLossError)
    case clipping(GradientClippingError)
    case optimizer(OptimizerError)
    case schedule(LearningRateScheduleError)
    /// The loss of a step (0-based index) is NaN or infinite; the weights were not changed.
    case nonFiniteLoss(step: Int, value: Double)
    /// The gradient of a step (0-based index) is NaN or infinite; the weights were not changed.
    case nonFiniteGradient(step: Int, norm: Double)
    /// A batch does not fit the models (wrong sizes); a bug in the batch source.
    case batchShape(String)
    /// The teacher cannot be used with this student.
    case teacher(String)
    /// The data could not be read or turned into a batch.
    case data(String)
    /// A checkpoint could not be written or read.
    case checkpoint(String)
    /// A run directory or log file problem.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .config(error): return error.description
        case let .model(error): return "model: \(error)"
        case let .lossGraph(error): return "distillation loss: \(error)"
        case let .taskLoss(error): return "task loss: \(error)"
        case let .clipping(error): return "gradient clipping: \(error)"
        case let .optimizer(error): return "optimizer: \(error)"
        case let .schedule(error): return "learning-rate schedule: \(error)"
        case let .nonFiniteLoss(step, value):
            return "step \(step + 1): the loss is \(value), so the step was not applied; lower optimizer.lr or check the data"
        case let .nonFiniteGradient(step, norm):
            return "step \(step + 1): the gradient norm is \(norm), so the step was not applied; lower optimizer.lr or check the data"
        case let .batchShape(reason): return "batch: \(reason)"
        case let .teacher(reason): return "teacher: \(reason)"
        case let .data(reason): return "data: \(reason)"
        case let .checkpoint(reason): return "checkpoint: \(reason)"
        case let .io(path, reason): return "\(path): \(reason)"
        }
    }
}
