/// Why a safetensors file could not be read, written or matched to a model.
/// Every case names the file and, where there is one, the tensor.
public enum SafeTensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file-system call failed.
    case io(FileIOError)
    /// The file is shorter than the 8-byte header length.
    case tooShort(path: String, size: Int)
    /// The header length is above the reader's cap (a corrupt or hostile file).
    case headerTooLarge(path: String, headerSize: UInt64, limit: Int)
    /// The header length runs past the end of the file (a truncated file).
    case headerPastEnd(path: String, headerSize: UInt64, fileSize: Int)
    /// The header is not a JSON object (bad UTF-8, syntax error, wrong top-level type).
    case headerNotJSON(path: String, reason: String)
    /// `__metadata__` is not a mapping of strings to strings.
    case invalidMetadata(path: String, reason: String)
    /// A tensor's header entry is malformed (missing or mistyped field, bad shape).
    case invalidEntry(path: String, tensor: String, reason: String)
    /// A dtype name that is not one of the safetensors formats.
    case unknownDType(path: String, tensor: String, dtype: String)
    /// The byte range does not hold exactly shape x dtype size bytes.
    case sizeMismatch(path: String, tensor: String, dtype: SafeTensorsDType, shape: [Int], expectedBytes: Int, actualBytes: Int)
    /// `data_offsets` fall outside the data section.
    case offsetsOutOfBounds(path: String, tensor: String, begin: Int, end: Int, dataSize: Int)
    /// Two tensors share bytes.
    case overlappingTensors(path: String, first: String, second: String)
    /// Part of the data section belongs to no tensor (the format forbids holes).
    case unindexedBytes(path: String, begin: Int, end: Int)
    /// The file has no tensor of that name.
    case tensorNotFound(path: String, tensor: String)
    /// The tensor's dtype cannot be converted to Float32 (integer and 8-bit float formats).
    case unsupportedDType(path: String, tensor: String, dtype: SafeTensorsDType)
    /// The file's tensors do not match the model's parameters.
    case doesNotMatchModel(path: String, missing: [String], unexpected: [String], wrongShape: [ShapeMismatch])
    /// A name the writer cannot store (empty, or the reserved `__metadata__`).
    case invalidTensorName(path: String, tensor: String)

    public var description: String {
        switch self {
        case let .io(error):
            return error.description
        case let .tooShort(path, size):
            return "\(path): not a safetensors file: \(size) bytes, shorter than the 8-byte header length"
        case let .headerTooLarge(path, headerSize, limit):
            return "\(path): safetensors header claims \(headerSize) bytes, above the \(limit)-byte limit; the file is corrupt or not safetensors"
        case let .headerPastEnd(path, headerSize, fileSize):
            return "\(path): safetensors header claims \(headerSize) bytes but the file has only \(fileSize); the file is truncated or not safetensors"
        case let .headerNotJSON(path, reason):
            return "\(path): safetensors header is not a JSON object: \(reason)"
        case let .invalidMetadata(path, reason):
            return "\(path): safetensors __metadata__ must map strings to strings: \(reason)"
        case let .invalidEntry(path, tensor, reason):
            return "\(path): tensor \(tensor): \(reason)"
        case let .unknownDType(path, tensor, dtype):
            let known = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            return "\(path): tensor \(tensor) has unknown dtype \"\(dtype)\" (known: \(known))"
        case let .sizeMismatch(path, tensor, dtype, shape, expected, actual):
            return "\(path): tensor \(tensor) is \(dtype.rawValue) \(shape), which needs \(expected) bytes, but its data_offsets cover \(actual)"
        case let .offsetsOutOfBounds(path, tensor, begin, end, dataSize):
            return "\(path): tensor \(tensor) has data_offsets [\(begin), \(end)] outside the \(dataSize)-byte data section"
        case let .overlappingTensors(path, first, second):
            return "\(path): tensors \(first) and \(second) overlap in the data section"
        case let .unindexedBytes(path, begin, end):
            return "\(path): data bytes \(begin)..<\(end) belong to no tensor (the format forbids holes)"
        case let .tensorNotFound(path, tensor):
            return "\(path): no tensor named \(tensor)"
        case let .unsupportedDType(path, tensor, dtype):
            return "\(path): tensor \(tensor) is \(dtype.rawValue); only F32, F16, BF16 and F64 convert to float32"
        case let .doesNotMatchModel(path, missing, unexpected, wrongShape):
            var parts: [String] = []
            if !missing.isEmpty {
                parts.append("missing \(missing.count) parameter(s): \(Self.list(missing))")
            }
            if !unexpected.isEmpty {
                parts.append("\(unexpected.count) tensor(s) the model does not have: \(Self.list(unexpected))")
            }
            if !wrongShape.isEmpty {
                parts.append("\(wrongShape.count) tensor(s) with the wrong shape: "
                    + Self.list(wrongShape.map { "\($0.name) is \($0.found), model needs \($0.expected)" }))
            }
            return "\(path) does not match the model (is the config the one these weights were trained with?): "
                + parts.joined(separator: "; ")
        case let .invalidTensorName(path, tensor):
            return "\(path): cannot store a tensor named \"\(tensor)\" (names must be non-empty and not __metadata__)"
        }
    }

    private static func list(_ items: [String], limit: Int = 12) -> String {
        let shown = items.prefix(limit).joined(separator: ", ")
        return items.count > limit ? shown + ", ... (\(items.count - limit) more)" : shown
    }
}

/// One tensor whose shape in a file differs from the model's parameter.
public struct ShapeMismatch: Equatable, Sendable {
    public let name: String
    public let expected: [Int]
    public let found: [Int]

    public init(name: String, expected: [Int], found: [Int]) {
        self.name = name; self.expected = expected; self.found = found
    }
}
