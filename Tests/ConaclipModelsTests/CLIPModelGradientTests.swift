import Testing
@testable import ConaclipModels

/// End-to-end gradient check of both towers against central finite
/// differences, on the tiny config, for a sample of every parameter tensor.
@Suite struct CLIPModelGradientTests {
    /// loss = sum(imageEmbeds * R1) + sum(textEmbeds * R2), accumulated in Double.
    static func loss(_ model: CLIPModel, pixels: [Float], r1: [Float], r2: [Float]) throws -> Double {
        let (images, texts) = try withEncoded(model, pixels: pixels, ids: TinyCLIP.captions, retain: false)
        var total = 0.0
        for i in images.indices { total += Double(images[i]) * Double(r1[i]) }
        for i in texts.indices { total += Double(texts[i]) * Double(r2[i]) }
        return total
    }

    @Test func wholeModelMatchesFiniteDifferences() throws {
        let model = try TinyCLIP.model()
        let p = model.config.projectionDim
        let pixels = TinyCLIP.pixels(batch: 2)
        var random = DeterministicRandom(seed: 11)
        let r1 = (0..<(2 * p)).map { _ in Float(random.nextNormal()) }
        let r2 = (0..<(TinyCLIP.captions.count * p)).map { _ in Float(random.nextNormal()) }

        // Analytic gradient, accumulated onto a non-zero start to check that
        // backward adds rather than overwrites.
        let store = model.parameters
        store.gradients.pointer.update(repeating: 0.5, count: store.count)
        _ = try withEncoded(model, pixels: pixels, ids: TinyCLIP.captions)
        try r1.withUnsafeBufferPointer { try model.vision.backward(dEmbeds: $0) }
        try r2.withUnsafeBufferPointer { try model.text.backward(dEmbeds: $0) }
        let analytic = store.gradients.array.map { $0 - 0.5 }

        #expect(analytic[model.logitScaleOffset] == 0, "the towers do not use logit_scale")

        let usedTokens = Set(TinyCLIP.captions.flatMap { $0 }).sorted()
        let h: Float = 1e-2
        var checked: Set<String> = []
        for spec in store.specs where spec.name != "logit_scale" {
            var picks: [Int] = []
            if spec.name == "text_model.embeddings.token_embedding.weight" {
                // Only rows of tokens in the batch get gradient; sample those.
                let width = spec.shape[1]
                for _ in 0..<4 {
                    let token = usedTokens[Int(random.next() % UInt64(usedTokens.count))]
                    picks.append(Int(token) * width + Int(random.next() % UInt64(width)))
                }
            } else {
                for _ in 0..<min(4, spec.count) { picks.append(Int(random.next() % UInt64(spec.count))) }
            }
            for index in picks {
                let slot = store.values.pointer + spec.offset + index
                let saved = slot.pointee
                func centralDifference(_ step: Float) throws -> Double {
                    slot.pointee = saved + step
                    let plus = try Self.loss(model, pixels: pixels, r1: r1, r2: r2)
                    slot.pointee = saved - step
                    let minus = try Self.loss(model, pixels: pixels, r1: r1, r2: r2)
                    slot.pointee = saved
                    return (plus - minus) / Double(2 * step)
                }
                // Richardson extrapolation cancels the h^2 error term, which is
                // large for the small-scale embeddings feeding a layer norm.
                let fd = (4 * (try centralDifference(h / 2)) - (try centralDifference(h))) / 3
                let an = Double(analytic[spec.offset + index])
                // float32 forward: the loss's round-off over 2h leaves about 2e-4
                // of noise (measured worst: 2.3e-4 absolute, 1% relative on
                // gradients near 0.02); what remains of truncation is O(h^4).
                let tolerance = 1e-3 + 1e-2 * max(abs(fd), abs(an))
                #expect(abs(fd - an) <= tolerance, "\(spec.name)[\(index)]: finite difference \(fd), backward \(an)")
            }
            checked.insert(spec.name)
        }
        // Every kind of parameter was sampled.
        for kind in ["q_proj.weight", "k_proj.bias", "v_proj.weight", "out_proj.weight", "out_proj.bias",
                     "layer_norm1.weight", "layer_norm2.bias", "mlp.fc1.weight", "mlp.fc2.bias",
                     "token_embedding.weight", "text_model.embeddings.position_embedding.weight",
                     "vision_model.embeddings.position_embedding.weight", "class_embedding",
                     "patch_embedding.weight", "pre_layrnorm.weight", "post_layernorm.bias",
                     "final_layer_norm.weight", "visual_projection.weight", "text_projection.weight"] {
            #expect(checked.contains { $0.hasSuffix(kind) }, "no \(kind) checked")
        }
    }
}
