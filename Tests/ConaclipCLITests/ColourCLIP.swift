import Foundation
import ConaclipModels

/// A CLIP whose answers can be worked out by hand, for testing search,
/// export and reports: one transformer layer per tower whose attention is
/// uniform (zero queries and keys) and passes values through (identity value
/// and output projections), no MLP, unit layer norms, zero positions.
///
/// - Image tower: the patch embedding writes each patch's mean normalised
///   (red, green, blue) into hidden dims 0-2 and their negatives into 3-5,
///   so the class token ends up with the mean of the patches' normalised
///   colour vectors, and the projection keeps dims 0-2. For a picture of one
///   colour the embedding is the unit vector along its normalised pixel
///   values `((c / 255 - mean) / std)` for c = R, G, B.
/// - Text tower: the tokens `red`, `green` and `blue` embed as
///   `e_k - e_(k+3)` for k = 0, 1, 2, every other token as zero; the
///   end-of-text token averages the tokens before it, so a text's embedding
///   is the unit vector of (count of red, count of green, count of blue), or
///   zero when it names no colour.
///
/// The score of a text and a one-colour picture is therefore the cosine of
/// those two 3-vectors (`expectedScore`).
enum ColourCLIP {
    static let mean: [Double] = [0.48145466, 0.4578275, 0.40821073]
    static let std: [Double] = [0.26862954, 0.26130258, 0.27577711]
    static let colourWords = ["red", "green", "blue"]

    /// The unit image embedding of a picture filled with `rgb`.
    static func imageEmbedding(_ rgb: (UInt8, UInt8, UInt8)) -> [Double] {
        let raw = [rgb.0, rgb.1, rgb.2].enumerated().map { c, value in (Double(Float(value) / 255) - mean[c]) / std[c] }
        let norm = raw.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return raw.map { $0 / norm }
    }

    /// The unit text embedding of `text` (zero when it names no colour word).
    static func textEmbedding(_ text: String) -> [Double] {
        let words = text.lowercased().split { !$0.isLetter }.map(String.init)
        let counts = colourWords.map { word in Double(words.filter { $0 == word }.count) }
        let norm = counts.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm == 0 ? counts : counts.map { $0 / norm }
    }

    static func expectedScore(_ text: String, _ rgb: (UInt8, UInt8, UInt8)) -> Double {
        zip(textEmbedding(text), imageEmbedding(rgb)).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// Writes the model directory (weights, config, tokenizer files) to `path`.
    /// `swap` exchanges the embeddings of `red` and `green` (a different model
    /// whose answers are predictable too).
    static func write(to path: String, swap: Bool = false, replace: Bool = false) throws {
        let tokenizerDirectory = URL(fileURLWithPath: path + ".tokenizer")
        let captions = Array(repeating: ["red", "green", "blue", "a red and green thing"], count: 4).flatMap { $0 }
        let vocabulary = try BPETrainer(vocabularySize: 600, contextLength: 8).train(captions)
        try vocabulary.write(to: tokenizerDirectory)
        defer { try? FileManager.default.removeItem(at: tokenizerDirectory) }
        let tokenizer = try CLIPTokenizer(directory: tokenizerDirectory)

        let width = 8, projection = 3
        let config = CLIPConfig(
            textConfig: CLIPTextConfig(vocabSize: tokenizer.vocabularySize, hiddenSize: width, intermediateSize: width,
                                       numHiddenLayers: 1, numAttentionHeads: 2, maxPositionEmbeddings: 8,
                                       bosTokenId: Int(tokenizer.bosTokenId), eosTokenId: Int(tokenizer.eosTokenId),
                                       padTokenId: Int(tokenizer.padTokenId)),
            visionConfig: CLIPVisionConfig(hiddenSize: width, intermediateSize: width, numHiddenLayers: 1,
                                           numAttentionHeads: 2, imageSize: 32, patchSize: 8),
            projectionDim: projection)
        let model = try CLIPModel(config: config)
        let store = model.parameters
        func set(_ name: String, _ fill: (inout [Float], [Int]) -> Void) throws {
            guard let spec = store.spec(named: name) else { throw CLITestError("no parameter \(name)") }
            var values = [Float](repeating: 0, count: spec.count)
            fill(&values, spec.shape)
            try store.assign(try Tensor(shape: spec.shape, scalars: values), to: name)
        }
        for spec in store.specs {
            let name = spec.name
            if name.hasSuffix("layer_norm1.weight") || name.hasSuffix("layer_norm2.weight")
                || name.hasSuffix("layrnorm.weight") || name.hasSuffix("post_layernorm.weight")
                || name.hasSuffix("final_layer_norm.weight") {
                try set(name) { v, _ in for i in v.indices { v[i] = 1 } }
            } else if name.hasSuffix("v_proj.weight") || name.hasSuffix("out_proj.weight") {
                try set(name) { v, shape in for i in 0..<shape[0] { v[i * shape[1] + i] = 1 } }
            } else if name == "visual_projection.weight" || name == "text_projection.weight" {
                try set(name) { v, shape in for i in 0..<projection { v[i * shape[1] + i] = 1 } }
            }
        }
        // Patch embedding [hidden, channels, patch, patch]: mean colour into dims c and -mean into c + 3.
        try set("vision_model.embeddings.patch_embedding.weight") { v, shape in
            let area = shape[2] * shape[3]
            for c in 0..<3 {
                for k in 0..<area {
                    v[(c * 3 + c) * area + k] = 1 / Float(area)
                    v[((c + 3) * 3 + c) * area + k] = -1 / Float(area)
                }
            }
        }
        var ids: [Int32] = []
        for word in colourWords {
            let tokens = tokenizer.encodeWithoutSpecialTokens(word)
            guard tokens.count == 1 else { throw CLITestError("\"\(word)\" is \(tokens.count) tokens in the test vocabulary") }
            ids.append(tokens[0])
        }
        if swap { ids.swapAt(0, 1) }
        try set("text_model.embeddings.token_embedding.weight") { v, shape in
            for (k, id) in ids.enumerated() {
                v[Int(id) * shape[1] + k] = 1
                v[Int(id) * shape[1] + k + 3] = -1
            }
        }
        try CheckpointDirectory.write(to: path, config: config, store: store,
                                      copying: CheckpointDirectory(path: tokenizerDirectory.path).tokenizerFiles,
                                      replaceExisting: replace)
    }

    /// Writes a `side` x `side` PNG filled with `rgb`.
    static func writePicture(_ rgb: (UInt8, UInt8, UInt8), to path: String, side: Int = 32) throws {
        let image = RGBImage(width: side, height: side, red: rgb.0, green: rgb.1, blue: rgb.2)
        try ImageCodec.writeFile(try PNGCodec.encode(image), to: path)
    }

    /// Pictures used by the tests: name and colour.
    static let palette: [(name: String, rgb: (UInt8, UInt8, UInt8))] = [
        ("red", (255, 0, 0)), ("green", (0, 255, 0)), ("blue", (0, 0, 255)), ("yellow", (255, 255, 0)),
        ("cyan", (0, 255, 255)), ("magenta", (255, 0, 255)), ("dark-red", (128, 0, 0)), ("grey", (128, 128, 128)),
        ("orange", (255, 128, 0)), ("white", (255, 255, 255)),
    ]
}
