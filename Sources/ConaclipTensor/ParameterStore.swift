/// One named parameter's place in a `ParameterStore`.
public struct ParameterSpec: Sendable, Hashable {
    /// Hugging Face style name, e.g. `vision_model.encoder.layers.0.mlp.fc1.weight`.
    public let name: String
    public let shape: [Int]
    /// Offset in floats from the start of the store.
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
}

/// Collects parameter names and shapes before the storage is allocated.
/// Parameters are laid out contiguously in registration order, so a model can
/// register related tensors (for example q, k and v projections) back to back
/// and treat them as one matrix.
public struct ParameterLayout: Sendable {
    public private(set) var specs: [ParameterSpec] = []
    public private(set) var totalCount = 0
    private var names: Set<String> = []

    public init() {}

    /// Registers a parameter and returns its offset.
    @discardableResult
    public mutating func add(_ name: String, shape: [Int]) throws(TensorError) -> Int {
        guard names.insert(name).inserted else { throw .duplicateParameter(name) }
        let spec = ParameterSpec(name: name, shape: shape, offset: totalCount)
        specs.append(spec)
        totalCount += spec.count
        return spec.offset
    }
}

/// All trainable parameters of a model in one flat buffer, with a gradient
/// buffer of the same layout. Flat storage makes the optimiser step, the
/// gradient reduction across workers, digests and checkpoints single loops.
public final class ParameterStore: @unchecked Sendable {
    public let specs: [ParameterSpec]
    public let values: FloatBuffer
    public let gradients: FloatBuffer
    private let index: [String: Int]

    public init(layout: ParameterLayout) {
        specs = layout.specs
        values = FloatBuffer(count: layout.totalCount)
        gradients = FloatBuffer(count: layout.totalCount)
        var index: [String: Int] = [:]
        for (i, spec) in layout.specs.enumerated() { index[spec.name] = i }
        self.index = index
    }

    /// Total number of scalar parameters.
    public var count: Int { values.count }

    /// The spec for a name, if registered.
    public func spec(named name: String) -> ParameterSpec? {
        index[name].map { specs[$0] }
    }

    /// A copy of one parameter as a tensor.
    public func tensor(named name: String) throws(TensorError) -> Tensor {
        guard let spec = spec(named: name) else { throw .unknownParameter(name) }
        let values = Array(UnsafeBufferPointer(start: self.values.pointer + spec.offset, count: spec.count))
        return try Tensor(shape: spec.shape, scalars: values)
    }

    /// Overwrites one parameter; the shape must match.
    public func assign(_ tensor: Tensor, to name: String) throws(TensorError) {
        guard let spec = spec(named: name) else { throw .unknownParameter(name) }
        guard spec.shape == tensor.shape else {
            throw .parameterShape(name: name, expected: spec.shape, got: tensor.shape)
        }
        tensor.scalars.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { (values.pointer + spec.offset).update(from: base, count: spec.count) }
        }
    }

    /// Sets every gradient to zero.
    public func zeroGradients() { gradients.zero() }
}
