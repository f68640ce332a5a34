import Crypto
import Foundation

/// A frozen teacher CLIP that computes the raw projected image and text
/// embeddings of dataset records (the tower outputs before L2
/// normalisation: the loss graph normalises by itself), and the digests
/// that make up a teacher cache's key.
///
/// Records are embedded in chunks of `chunkSize` aligned to dataset indices
/// (records `k*chunkSize ..< (k+1)*chunkSize`), so every record is computed
/// in the same forward pass whichever slice of the dataset a worker is given,
/// as long as slices start at multiples of `chunkSize`
/// (`TeacherCacheBuilder.slices` cuts them so). Each forward pass is
/// single-threaded as long as BLAS is.
public final class TeacherEmbedder {
    /// Records per forward pass. Part of the build recipe: it is recorded in
    /// each cache's `source.chunk_size`.
    public static let chunkSize = 16

    public let directory: String
    public let model: CLIPModel
    public let tokenizer: CLIPTokenizer
    public let preprocessor: CLIPImagePreprocessor
    /// `ModelDigest` of the teacher's weights.
    public let weightsDigest: String
    /// SHA-256 of the towers' configurations (see `configDigest(_:)`).
    public let configDigest: String
    public let preprocessing: TeacherPreprocessing

    private var pixels: [Float] = []
    private var ids: [Int32] = []
    private var scratch: [Float] = []
    private var workspace = ResamplingWorkspace()

    /// Embedding width (the projection dimension).
    public var dim: Int { model.config.projectionDim }

    /// Loads the model directory (as `CLIPEncoder` does) and computes its digests.
    public convenience init(directory: String) throws(TeacherCacheError) {
        let encoder: CLIPEncoder
        do {
            encoder = try CLIPEncoder(directory: directory, chunkSize: Self.chunkSize)
        } catch {
            throw .teacher(path: directory, reason: "\(error)")
        }
        try self.init(encoder: encoder, directory: directory)
    }

    /// Uses a model already loaded from `directory` (whose tokenizer files
    /// are hashed into the key), e.g. one that also embeds search queries.
    public init(encoder: CLIPEncoder, directory: String) throws(TeacherCacheError) {
        self.directory = directory
        model = encoder.model
        tokenizer = encoder.tokenizer
        preprocessor = encoder.preprocessor
        weightsDigest = ModelDigest.sha256(of: model.parameters)
        configDigest = Self.configDigest(model.config)
        preprocessing = TeacherPreprocessing(
            imageSize: preprocessor.size, cropSize: preprocessor.cropSize,
            mean: preprocessor.mean, std: preprocessor.std,
            contextLength: model.config.textConfig.maxPositionEmbeddings,
            tokenizerDigest: try Self.tokenizerDigest(directory: directory))
    }

    /// The tokenizer files `CLIPTokenizer(directory:)` reads, in this order.
    public static let tokenizerFileNames = ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"]

    /// SHA-256 (hex) over the tokenizer files: for each name of
    /// `tokenizerFileNames` in order, the name's byte length (UInt64 LE), the
    /// name, then UInt64 LE `UInt64.max` for an absent file or the file's
    /// length followed by its bytes.
    public static func tokenizerDigest(directory: String) throws(TeacherCacheError) -> String {
        var hasher = SHA256()
        func integer(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { hasher.update(bufferPointer: $0) } }
        for name in tokenizerFileNames {
            let bytes = Array(name.utf8)
            integer(UInt64(bytes.count))
            hasher.update(data: bytes)
            let path = (directory as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: path) else {
                integer(UInt64.max)
                continue
            }
            do {
                let file = try MappedFile(path: path)
                integer(UInt64(file.count))
                hasher.update(bufferPointer: file.bytes)
            } catch {
                throw .io(error)
            }
        }
        return ModelDigest.hex(hasher.finalize())
    }

    /// SHA-256 (hex) of `conaclip-teacher-config-v1`, a line feed, and the
    /// sorted-key JSON of `{"projection_dim", "text_config", "vision_config"}`
    /// as `CLIPConfig` encodes them. `logit_scale_init_value` is left out: it
    /// does not change an embedding.
    public static func configDigest(_ config: CLIPConfig) -> String {
        struct Towers: Encodable {
            let projectionDim: Int
            let textConfig: CLIPTextConfig
            let visionConfig: CLIPVisionConfig
            enum CodingKeys: String, CodingKey {
                case projectionDim = "projection_dim", textConfig = "text_config", visionConfig = "vision_config"
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = (try? encoder.encode(Towers(projectionDim: config.projectionDim, textConfig: config.textConfig,
                                               visionConfig: config.visionConfig))) ?? Data()
        var hasher = SHA256()
        hasher.update(data: Array("conaclip-teacher-config-v1\n".utf8))
        hasher.update(data: json)
        return ModelDigest.hex(hasher.finalize())
    }

    /// Embeds `records` of `dataset`: image embeddings into `images` and text
    /// embeddings into `texts`, each `[records.count, dim]` row-major.
    ///
    /// Every record is computed in its canonical chunk, the records
    /// `k*chunkSize ..< min((k+1)*chunkSize, dataset.count)` that contain it,
    /// even when `records` covers only part of that chunk (the rest is
    /// computed and dropped). A record's embedding is therefore one fixed
    /// function of the dataset and the index, whatever range is asked for:
    /// OpenBLAS's SGEMM rounds a row differently depending on how many rows
    /// the call has, so a record embedded in another batch would differ in
    /// the last bits.
    public func embed(_ dataset: some PairDataset, records: Range<Int>,
                      images: UnsafeMutableBufferPointer<Float>,
                      texts: UnsafeMutableBufferPointer<Float>) throws(TeacherCacheError) {
        guard records.lowerBound >= 0, records.upperBound <= dataset.count else {
            throw .invalidSlice(start: records.lowerBound, end: records.upperBound, count: dataset.count)
        }
        let d = dim
        precondition(images.count == records.count * d && texts.count == records.count * d,
                     "output buffers must hold \(records.count) x \(d) floats")
        guard let imageBase = images.baseAddress, let textBase = texts.baseAddress else { return }
        var chunkStart = records.lowerBound / Self.chunkSize * Self.chunkSize
        while chunkStart < records.upperBound {
            let chunk = chunkStart..<min(dataset.count, chunkStart + Self.chunkSize)
            let wanted = chunk.clamped(to: records)
            let n = chunk.count
            if wanted == chunk {
                let row = chunk.lowerBound - records.lowerBound
                try embedImages(dataset, chunk, into: UnsafeMutableBufferPointer(start: imageBase + row * d, count: n * d))
                try embedTexts(dataset, chunk, into: UnsafeMutableBufferPointer(start: textBase + row * d, count: n * d))
            } else {
                if scratch.count < 2 * n * d { scratch = [Float](repeating: 0, count: 2 * Self.chunkSize * d) }
                try scratch.withUnsafeMutableBufferPointer { (buffer) throws(TeacherCacheError) in
                    guard let base = buffer.baseAddress else { return }
                    try embedImages(dataset, chunk, into: UnsafeMutableBufferPointer(start: base, count: n * d))
                    try embedTexts(dataset, chunk, into: UnsafeMutableBufferPointer(start: base + n * d, count: n * d))
                    let skip = wanted.lowerBound - chunk.lowerBound
                    let row = wanted.lowerBound - records.lowerBound
                    (imageBase + row * d).update(from: base + skip * d, count: wanted.count * d)
                    (textBase + row * d).update(from: base + n * d + skip * d, count: wanted.count * d)
                }
            }
            chunkStart += Self.chunkSize
        }
    }

    private func embedImages(_ dataset: some PairDataset, _ chunk: Range<Int>,
                             into output: UnsafeMutableBufferPointer<Float>) throws(TeacherCacheError) {
        let per = preprocessor.valuesPerImage
        let needed = chunk.count * per
        if pixels.count < needed { pixels = [Float](repeating: 0, count: needed) }
        for (i, index) in chunk.enumerated() {
            let record = dataset.record(at: index)
            let image: RGBImage
            do {
                image = try PairImageLoader.load(record)
            } catch {
                throw .image(record: record.id, location: record.location, reason: error.reason)
            }
            pixels.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                preprocessor.preprocess(image, into: UnsafeMutableBufferPointer(start: base + i * per, count: per),
                                        workspace: &workspace)
            }
        }
        var failure: ModelError?
        pixels.withUnsafeBufferPointer { buffer in
            do throws(ModelError) {
                try model.vision.forward(pixels: UnsafeBufferPointer(rebasing: buffer[0..<needed]), batch: chunk.count,
                                         output: output, retainActivations: false)
            } catch { failure = error }
        }
        if let failure { throw .model(failure.description) }
    }

    private func embedTexts(_ dataset: some PairDataset, _ chunk: Range<Int>,
                            into output: UnsafeMutableBufferPointer<Float>) throws(TeacherCacheError) {
        let context = preprocessing.contextLength
        ids.removeAll(keepingCapacity: true)
        for index in chunk {
            ids.append(contentsOf: tokenizer.encode(dataset.record(at: index).caption, contextLength: context))
        }
        var failure: ModelError?
        ids.withUnsafeBufferPointer { buffer in
            do throws(ModelError) {
                try model.text.forward(ids: buffer, batch: chunk.count, output: output, retainActivations: false)
            } catch { failure = error }
        }
        if let failure { throw .model(failure.description) }
    }
}
