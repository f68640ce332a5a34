/// A dense float32 tensor in row-major order.
///
/// Used at the engine's boundaries (checkpoints, embeddings, tests); the hot
/// path works on `FloatBuffer`s and raw pointers instead.
public struct Tensor: Sendable, Equatable {
    /// Dimensions, outermost first.
    public var shape: [Int]
    /// `shape.reduce(1, *)` values in row-major order.
    public var scalars: [Float]

    /// A tensor with the given shape and values; the count must match.
    public init(shape: [Int], scalars: [Float]) throws(TensorError) {
        let expected = shape.reduce(1, *)
        guard shape.allSatisfy({ $0 >= 0 }), expected == scalars.count else {
            throw .shapeMismatch(expected: shape, count: scalars.count)
        }
        self.shape = shape
        self.scalars = scalars
    }

    /// A zero-filled tensor.
    public init(zeros shape: [Int]) {
        self.shape = shape
        self.scalars = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// Number of elements.
    public var count: Int { scalars.count }
}

/// Errors from building or combining tensors.
public enum TensorError: Error, Equatable, CustomStringConvertible {
    case shapeMismatch(expected: [Int], count: Int)
    case unknownParameter(String)
    case parameterShape(name: String, expected: [Int], got: [Int])
    case duplicateParameter(String)

    public var description: String {
        switch self {
        case let .shapeMismatch(shape, count):
            return "shape \(shape) needs \(shape.reduce(1, *)) values, got \(count)"
        case let .unknownParameter(name):
            return "no parameter named \(name)"
        case let .parameterShape(name, expected, got):
            return "parameter \(name) has shape \(expected), got a tensor of shape \(got)"
        case let .duplicateParameter(name):
            return "parameter \(name) is registered twice"
        }
    }
}
