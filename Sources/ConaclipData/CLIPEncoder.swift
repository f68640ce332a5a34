import Foundation

/// A loaded CLIP model directory ready to embed images and texts the way
/// Hugging Face's `CLIPModel.get_image_features` / `get_text_features` do,
/// followed by L2 normalisation: the model, its tokenizer and its image
/// preprocessing. Used by `conaclip embed` and by retrieval.
public final class CLIPEncoder {
    public let model: CLIPModel
    public let tokenizer: CLIPTokenizer
    public let preprocessor: CLIPImagePreprocessor
    /// Images or texts encoded per forward pass.
    public let chunkSize: Int

    /// Loads `config.json`, `model.safetensors`, the tokenizer files and
    /// (if present) `preprocessor_config.json` from `directory`.
    public init(directory: String, chunkSize: Int = 64) throws {
        let checkpoint = CheckpointDirectory(path: directory)
        let config = try checkpoint.readConfig()
        model = try CLIPModel(config: config)
        try checkpoint.loadWeights(into: model.parameters)
        tokenizer = try CLIPTokenizer(directory: URL(fileURLWithPath: directory))
        guard tokenizer.vocabularySize <= config.textConfig.vocabSize else {
            throw DataError.model(path: directory, reason:
                "the tokenizer has \(tokenizer.vocabularySize) tokens but the text tower only \(config.textConfig.vocabSize)")
        }
        let settings = try ImageProcessorSettings(directory: directory, imageSize: config.visionConfig.imageSize)
        guard settings.cropSize == config.visionConfig.imageSize else {
            throw DataError.model(path: directory, reason:
                "\(ImageProcessorSettings.fileName) crops to \(settings.cropSize) pixels but the image tower takes \(config.visionConfig.imageSize)")
        }
        preprocessor = try settings.preprocessor()
        self.chunkSize = max(1, chunkSize)
    }

    /// L2-normalised embeddings `[images.count, projectionDim]`.
    public func embed(images: [RGBImage]) throws -> Tensor {
        let d = model.config.projectionDim
        var out = [Float](repeating: 0, count: images.count * d)
        var workspace = ResamplingWorkspace()
        var pixels = [Float]()
        for start in stride(from: 0, to: images.count, by: chunkSize) {
            let chunk = Array(images[start..<min(images.count, start + chunkSize)])
            pixels = [Float](repeating: 0, count: chunk.count * preprocessor.valuesPerImage)
            pixels.withUnsafeMutableBufferPointer { preprocessor.preprocess(chunk, into: $0, workspace: &workspace) }
            try out.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                let slice = UnsafeMutableBufferPointer(start: base + start * d, count: chunk.count * d)
                try pixels.withUnsafeBufferPointer { p in
                    try model.vision.forward(pixels: p, batch: chunk.count, output: slice, retainActivations: false)
                }
            }
        }
        return try Self.normalizedRows(out, width: d)
    }

    /// L2-normalised embeddings `[texts.count, projectionDim]`; texts are
    /// tokenized, padded and truncated to the model's context length.
    public func embed(texts: [String]) throws -> Tensor {
        let d = model.config.projectionDim
        let context = model.config.textConfig.maxPositionEmbeddings
        var out = [Float](repeating: 0, count: texts.count * d)
        for start in stride(from: 0, to: texts.count, by: chunkSize) {
            let chunk = texts[start..<min(texts.count, start + chunkSize)]
            let ids = chunk.flatMap { tokenizer.encode($0, contextLength: context) }
            try out.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                let slice = UnsafeMutableBufferPointer(start: base + start * d, count: chunk.count * d)
                try ids.withUnsafeBufferPointer { p in
                    try model.text.forward(ids: p, batch: chunk.count, output: slice, retainActivations: false)
                }
            }
        }
        return try Self.normalizedRows(out, width: d)
    }

    static func normalizedRows(_ values: [Float], width: Int) throws -> Tensor {
        var values = values
        let rows = width > 0 ? values.count / width : 0
        if rows > 0 {
            var norms = [Float](repeating: 0, count: rows)
            values.withUnsafeMutableBufferPointer { v in
                norms.withUnsafeMutableBufferPointer { n in
                    guard let vb = v.baseAddress, let nb = n.baseAddress else { return }
                    L2Normalize.forward(x: vb, rows: rows, cols: width, y: vb, norms: nb)
                }
            }
        }
        return try Tensor(shape: [rows, width], scalars: values)
    }
}
