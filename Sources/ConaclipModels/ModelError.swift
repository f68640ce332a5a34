/// Errors from building or running a CLIP model, with messages that say
/// what was wrong with the input and what was expected instead.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    /// The configuration cannot describe a working model (for example a
    /// width that the head count does not divide).
    case invalidConfig(String)
    /// An input or output buffer does not hold the number of values its
    /// batch size implies.
    case sizeMismatch(what: String, expected: Int, got: Int)
    /// An input tensor whose shape is not the one the model takes.
    case shapeMismatch(what: String, expected: [Int], got: [Int])
    /// A batch size of zero or less.
    case invalidBatch(Int)
    /// A token id outside `0..<vocabSize`.
    case tokenOutOfRange(row: Int, position: Int, id: Int32, vocabSize: Int)
    /// `backward` was called without a preceding training forward pass on
    /// the same tower (or after an inference call replaced it).
    case noForwardPass(tower: String)
    /// A parameter could not be registered or found (a bug in the model's
    /// parameter list, or a checkpoint that does not match it).
    case parameter(TensorError)

    public var description: String {
        switch self {
        case let .invalidConfig(reason):
            return "invalid CLIP configuration: \(reason)"
        case let .sizeMismatch(what, expected, got):
            return "\(what) holds \(got) values, expected \(expected)"
        case let .shapeMismatch(what, expected, got):
            return "\(what) has shape \(got), expected \(expected)"
        case let .invalidBatch(batch):
            return "batch size must be at least 1, got \(batch)"
        case let .tokenOutOfRange(row, position, id, vocabSize):
            return "token id \(id) at row \(row), position \(position) is outside the vocabulary 0..<\(vocabSize)"
        case let .noForwardPass(tower):
            return "\(tower) backward needs a training forward pass first (inference calls do not keep activations)"
        case let .parameter(error):
            return "parameter error: \(error)"
        }
    }
}
