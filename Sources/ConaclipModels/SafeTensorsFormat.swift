/// The element types a safetensors header can name (`"dtype"`), as the
/// reference implementation spells them.
public enum SafeTensorsDType: String, CaseIterable, Sendable {
    case bool = "BOOL"
    case u8 = "U8", i8 = "I8", u16 = "U16", i16 = "I16", u32 = "U32", i32 = "I32", u64 = "U64", i64 = "I64"
    case f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3"
    case f16 = "F16", bf16 = "BF16", f32 = "F32", f64 = "F64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: return 1
        case .u16, .i16, .f16, .bf16: return 2
        case .u32, .i32, .f32: return 4
        case .u64, .i64, .f64: return 8
        }
    }

    /// Whether the reader converts this type to Float32.
    public var convertsToFloat: Bool {
        switch self {
        case .f16, .bf16, .f32, .f64: return true
        default: return false
        }
    }
}

/// The precisions this project writes weights in. Float32 is exact; F16
/// and BF16 halve the file and round to nearest, ties to even.
public enum WeightDType: String, CaseIterable, Sendable, Codable {
    case float32 = "F32"
    case float16 = "F16"
    case bfloat16 = "BF16"

    /// Parses a user's spelling: `f32`/`fp32`/`float32`, `f16`/`fp16`/`float16`/`half`,
    /// `bf16`/`bfloat16` (any case).
    public init?(argument: String) {
        switch argument.lowercased() {
        case "f32", "fp32", "float32", "float": self = .float32
        case "f16", "fp16", "float16", "half": self = .float16
        case "bf16", "bfloat16": self = .bfloat16
        default: return nil
        }
    }

    /// The safetensors dtype the data is stored as.
    public var safeTensorsDType: SafeTensorsDType {
        switch self {
        case .float32: return .f32
        case .float16: return .f16
        case .bfloat16: return .bf16
        }
    }

    /// The name torch and `config.json` (`torch_dtype`) use.
    public var torchName: String {
        switch self {
        case .float32: return "float32"
        case .float16: return "float16"
        case .bfloat16: return "bfloat16"
        }
    }
}

/// One tensor's header entry in a safetensors file.
public struct SafeTensorsEntry: Equatable, Sendable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// Byte range within the data section (after the header).
    public let dataOffsets: Range<Int>

    /// Number of elements (1 for a scalar of shape []).
    public var count: Int { dataOffsets.count / dtype.byteSize }
}

/// Constants and limits of the safetensors format.
public enum SafeTensors {
    /// The reader refuses headers above this size (the reference
    /// implementation's limit), so a corrupt length cannot trigger a huge allocation.
    public static let maximumHeaderSize = 100_000_000

    /// Tensors Hugging Face CLIP checkpoints may carry that are buffers, not
    /// parameters; loading into a model ignores them.
    public static let ignoredBuffers: Set<String> = [
        "text_model.embeddings.position_ids",
        "vision_model.embeddings.position_ids",
    ]

    /// Metadata Hugging Face `from_pretrained` requires of PyTorch-style weight files.
    public static let huggingFaceMetadata: [String: String] = ["format": "pt"]
}
