import Testing
@testable import ConaclipModels

/// A tiny CLIP for fast tests: width 16, 2 layers, 2 heads, 16x16 images in
/// 8x8 patches (5 tokens), 8-token context over a 20-token vocabulary. The
/// image tower uses exact GELU and the text tower quick-GELU, so both
/// activations are exercised.
enum TinyCLIP {
    static let bos: Int32 = 18
    static let eos: Int32 = 19

    static func config(eosTokenId: Int = 19) -> CLIPConfig {
        CLIPConfig(
            textConfig: CLIPTextConfig(vocabSize: 20, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 2,
                                       numAttentionHeads: 2, maxPositionEmbeddings: 8, hiddenAct: .quickGELU,
                                       bosTokenId: 18, eosTokenId: eosTokenId, padTokenId: 19),
            visionConfig: CLIPVisionConfig(hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 2,
                                           numAttentionHeads: 2, imageSize: 16, patchSize: 8, hiddenAct: .gelu),
            projectionDim: 8)
    }

    /// A model initialised from `seed`, with layer norms and biases moved
    /// off their 1/0 initial values so every parameter matters generically.
    static func model(seed: UInt64 = 7, eosTokenId: Int = 19) throws -> CLIPModel {
        let model = try CLIPModel(config: config(eosTokenId: eosTokenId))
        model.initialize(seed: seed)
        var random = DeterministicRandom(seed: seed &+ 1000)
        for spec in model.parameters.specs
        where spec.name.contains("norm") || spec.name.hasSuffix(".bias") {
            let p = model.parameters.values.pointer + spec.offset
            for i in 0..<spec.count { p[i] += Float(0.2 * random.nextNormal()) }
        }
        return model
    }

    /// `batch` images of standard-normal pixels.
    static func pixels(batch: Int, seed: UInt64 = 3) -> [Float] {
        var random = DeterministicRandom(seed: seed)
        return (0..<(batch * 3 * 16 * 16)).map { _ in Float(random.nextNormal()) }
    }

    /// Three captions: end-of-text mid-row, at the last position, and none.
    static let captions: [[Int32]] = [
        [bos, 3, 5, eos, eos, eos, eos, eos],
        [bos, 7, 1, 2, 9, 11, 4, eos],
        [bos, 12, 13, 14, 15, 16, 17, 0],
    ]
}

/// Runs `body` with buffer views of `pixels`/`ids` and output arrays.
func withEncoded(_ model: CLIPModel, pixels: [Float], ids: [[Int32]], retain: Bool = true)
    throws -> (images: [Float], texts: [Float]) {
    let p = model.config.projectionDim
    let imageBatch = pixels.count / model.vision.valuesPerImage
    var images = [Float](repeating: 0, count: imageBatch * p)
    var texts = [Float](repeating: 0, count: ids.count * p)
    let flat = ids.flatMap { $0 }
    try pixels.withUnsafeBufferPointer { input in
        try images.withUnsafeMutableBufferPointer { out in
            try model.vision.forward(pixels: input, batch: imageBatch, output: out, retainActivations: retain)
        }
    }
    try flat.withUnsafeBufferPointer { input in
        try texts.withUnsafeMutableBufferPointer { out in
            try model.text.forward(ids: input, batch: ids.count, output: out, retainActivations: retain)
        }
    }
    return (images, texts)
}

/// Largest absolute elementwise difference.
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    var m: Float = 0
    for i in a.indices { m = max(m, abs(a[i] - b[i])) }
    return m
}
