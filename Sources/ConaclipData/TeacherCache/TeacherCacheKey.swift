import Crypto

/// How a teacher turns a record into its inputs: the image preprocessing and
/// the text tokenization. Part of a teacher cache's key, because changing any
/// of it changes the embeddings.
public struct TeacherPreprocessing: Codable, Equatable, Sendable {
    /// Shortest-edge resize target in pixels.
    public var imageSize: Int
    /// Centre-crop side in pixels (the image tower's input size).
    public var cropSize: Int
    /// Per-channel mean and standard deviation subtracted / divided after rescaling to 0...1.
    public var mean: [Float]
    public var std: [Float]
    /// The resampling filter of the resize.
    public var resample: String
    /// Token ids per text (padded and truncated to this length).
    public var contextLength: Int
    /// SHA-256 of the tokenizer files the tokenizer reads (see `TeacherEmbedder.tokenizerDigest`).
    public var tokenizerDigest: String

    /// The filter `CLIPImagePreprocessor` implements.
    public static let pillowBicubic = "pillow-bicubic"

    public init(imageSize: Int, cropSize: Int, mean: [Float], std: [Float], resample: String = pillowBicubic,
                contextLength: Int, tokenizerDigest: String) {
        self.imageSize = imageSize; self.cropSize = cropSize; self.mean = mean; self.std = std
        self.resample = resample; self.contextLength = contextLength; self.tokenizerDigest = tokenizerDigest
    }

    enum CodingKeys: String, CodingKey {
        case imageSize = "image_size", cropSize = "crop_size", mean, std, resample
        case contextLength = "context_length", tokenizerDigest = "tokenizer_digest"
    }
}

/// Everything a cache's embeddings depend on. A cache is used only when its
/// key equals the key the caller computes from its own teacher and dataset.
///
/// - `teacherDigest`: `ModelDigest` of the teacher's weights.
/// - `teacherConfigDigest`: SHA-256 of the teacher's text and vision tower
///   configurations (activation, widths, epsilon...), which change the
///   embeddings without changing a weight.
/// - `datasetDigest`: the dataset's own digest, given by the caller (opaque here).
/// - `recordCount`, `recordIDsDigest`: the records in order (see `recordIDsDigest(_:)`),
///   so another split or order of the same manifest is another key.
/// - `preprocessing`: image preprocessing and tokenization.
public struct TeacherCacheKey: Codable, Equatable, Sendable {
    public var teacherDigest: String
    public var teacherConfigDigest: String
    public var datasetDigest: String
    public var recordCount: Int
    public var recordIDsDigest: String
    public var preprocessing: TeacherPreprocessing

    public init(teacherDigest: String, teacherConfigDigest: String, datasetDigest: String,
                recordCount: Int, recordIDsDigest: String, preprocessing: TeacherPreprocessing) {
        self.teacherDigest = teacherDigest; self.teacherConfigDigest = teacherConfigDigest
        self.datasetDigest = datasetDigest; self.recordCount = recordCount
        self.recordIDsDigest = recordIDsDigest; self.preprocessing = preprocessing
    }

    /// The key for embedding `dataset` (whose digest is `datasetDigest`) with `teacher`.
    public init(teacher: TeacherEmbedder, dataset: some PairDataset, datasetDigest: String) {
        self.init(teacherDigest: teacher.weightsDigest, teacherConfigDigest: teacher.configDigest,
                  datasetDigest: datasetDigest, recordCount: dataset.count,
                  recordIDsDigest: Self.recordIDsDigest(dataset), preprocessing: teacher.preprocessing)
    }

    enum CodingKeys: String, CodingKey {
        case teacherDigest = "teacher_digest", teacherConfigDigest = "teacher_config_digest"
        case datasetDigest = "dataset_digest", recordCount = "record_count"
        case recordIDsDigest = "record_ids_digest", preprocessing
    }

    /// SHA-256 (hex) of the record ids in order: for each id its UTF-8 byte
    /// length as UInt64 little-endian, then its bytes.
    public static func recordIDsDigest(_ dataset: some PairDataset) -> String {
        var hasher = SHA256()
        for index in 0..<dataset.count { update(&hasher, id: dataset.record(at: index).id) }
        return ModelDigest.hex(hasher.finalize())
    }

    /// `recordIDsDigest` of a list of ids.
    public static func recordIDsDigest(_ ids: [String]) -> String {
        var hasher = SHA256()
        for id in ids { update(&hasher, id: id) }
        return ModelDigest.hex(hasher.finalize())
    }

    private static func update(_ hasher: inout SHA256, id: String) {
        let bytes = Array(id.utf8)
        withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { hasher.update(bufferPointer: $0) }
        hasher.update(data: bytes)
    }

    /// The fields of `found` (a cache's key) that differ from `self` (the expected key).
    public func mismatches(in found: TeacherCacheKey) -> [TeacherCacheMismatch] {
        var out: [TeacherCacheMismatch] = []
        func compare<T: Equatable>(_ field: String, _ expected: T, _ actual: T) {
            if expected != actual { out.append(.init(field: field, expected: "\(expected)", found: "\(actual)")) }
        }
        compare("teacher_digest", teacherDigest, found.teacherDigest)
        compare("teacher_config_digest", teacherConfigDigest, found.teacherConfigDigest)
        compare("dataset_digest", datasetDigest, found.datasetDigest)
        compare("record_count", recordCount, found.recordCount)
        compare("record_ids_digest", recordIDsDigest, found.recordIDsDigest)
        let p = preprocessing, q = found.preprocessing
        compare("preprocessing.image_size", p.imageSize, q.imageSize)
        compare("preprocessing.crop_size", p.cropSize, q.cropSize)
        compare("preprocessing.mean", p.mean, q.mean)
        compare("preprocessing.std", p.std, q.std)
        compare("preprocessing.resample", p.resample, q.resample)
        compare("preprocessing.context_length", p.contextLength, q.contextLength)
        compare("preprocessing.tokenizer_digest", p.tokenizerDigest, q.tokenizerDigest)
        return out
    }

    /// What a key field means, for error messages.
    static func explanation(of field: String) -> String {
        switch field {
        case "teacher_digest": return "teacher weights differ (teacher_digest)"
        case "teacher_config_digest": return "teacher architecture config differs (teacher_config_digest)"
        case "dataset_digest": return "dataset differs (dataset_digest)"
        case "record_count": return "number of records differs (record_count)"
        case "record_ids_digest": return "record ids or their order differ, e.g. another split (record_ids_digest)"
        case "preprocessing.tokenizer_digest": return "tokenizer files differ (preprocessing.tokenizer_digest)"
        default:
            if field.hasPrefix("preprocessing.") { return "preprocessing differs (\(field))" }
            return field
        }
    }
}
