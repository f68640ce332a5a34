/// The CLIP image tower (Hugging Face `CLIPVisionModel` plus
/// `visual_projection`): patch embedding, class token, position embeddings,
/// `pre_layrnorm`, the encoder, `post_layernorm` on the class token and the
/// bias-free projection. Produces raw (not normalised) image embeddings.
///
/// Forward and backward run on raw buffers in preallocated workspace; the
/// tower is single-threaded, deterministic and not safe for concurrent use.
/// Create it through `CLIPModel`, which owns the parameter store.
public final class VisionTransformer {
    /// Offsets of the tower's own tensors in the parameter store.
    struct Offsets {
        var classEmbedding = 0, patchWeight = 0, positionEmbedding = 0
        var preNormWeight = 0, preNormBias = 0, postNormWeight = 0, postNormBias = 0
        var projection = 0
        var layers: [TransformerEncoder.LayerOffsets] = []
    }

    public let config: CLIPVisionConfig
    /// Width of the output embeddings.
    public let projectionDim: Int
    public let parameters: ParameterStore
    /// The transformer layers (exposed for sizes and FLOP counts).
    public let encoder: TransformerEncoder
    let offsets: Offsets

    // Workspace, grown only when the batch exceeds the capacity.
    private var capacity = 0
    private var patches = FloatBuffer(count: 0)
    private var patchOut = FloatBuffer(count: 0)
    private var embeddings = FloatBuffer(count: 0)
    private var preMean = FloatBuffer(count: 0)
    private var preRstd = FloatBuffer(count: 0)
    private var classTokens = FloatBuffer(count: 0)
    private var pooled = FloatBuffer(count: 0)
    private var postMean = FloatBuffer(count: 0)
    private var postRstd = FloatBuffer(count: 0)
    private var pooledGradient = FloatBuffer(count: 0)
    private var classGradient = FloatBuffer(count: 0)
    private var embeddingGradient = FloatBuffer(count: 0)
    private var patchGradient = FloatBuffer(count: 0)
    /// Batch of the last forward pass that kept its activations, if the
    /// workspace still holds them.
    private var trainingBatch: Int?

    init(config: CLIPVisionConfig, projectionDim: Int, parameters: ParameterStore, offsets: Offsets) {
        self.config = config
        self.projectionDim = projectionDim
        self.parameters = parameters
        self.offsets = offsets
        encoder = TransformerEncoder(
            width: config.hiddenSize, intermediateSize: config.intermediateSize,
            layerCount: config.numHiddenLayers, heads: config.numAttentionHeads,
            sequenceLength: config.sequenceLength, causal: false, activation: config.hiddenAct,
            layerNormEps: config.layerNormEps, parameters: parameters, offsets: offsets.layers)
    }

    /// Registers `vision_model.*` with Hugging Face names and shapes
    /// (the projection is registered by `CLIPModel`, in HF's order).
    static func register(config: CLIPVisionConfig, layout: inout ParameterLayout) throws(TensorError) -> Offsets {
        let d = config.hiddenSize, p = config.patchSize
        var o = Offsets()
        o.classEmbedding = try layout.add("vision_model.embeddings.class_embedding", shape: [d])
        o.patchWeight = try layout.add("vision_model.embeddings.patch_embedding.weight",
                                       shape: [d, config.numChannels, p, p])
        o.positionEmbedding = try layout.add("vision_model.embeddings.position_embedding.weight",
                                             shape: [config.sequenceLength, d])
        o.preNormWeight = try layout.add("vision_model.pre_layrnorm.weight", shape: [d])
        o.preNormBias = try layout.add("vision_model.pre_layrnorm.bias", shape: [d])
        o.layers = try TransformerEncoder.register(prefix: "vision_model.encoder", layers: config.numHiddenLayers,
                                                   width: d, intermediateSize: config.intermediateSize,
                                                   layout: &layout)
        o.postNormWeight = try layout.add("vision_model.post_layernorm.weight", shape: [d])
        o.postNormBias = try layout.add("vision_model.post_layernorm.bias", shape: [d])
        return o
    }

    /// Floats in one preprocessed image (`channels * size * size`).
    public var valuesPerImage: Int { config.numChannels * config.imageSize * config.imageSize }

    /// Matrix-product FLOPs (2 per multiply-add) of one image's forward pass:
    /// patch embedding, the encoder and the projection.
    public var forwardFLOPsPerImage: Int {
        let d = config.hiddenSize, grid = config.gridSize, p = config.patchSize
        let patchFLOPs = 2 * grid * grid * config.numChannels * p * p * d
        return patchFLOPs + encoder.forwardFLOPsPerSample + 2 * d * projectionDim
    }

    private func reserve(batch: Int) {
        guard batch > capacity else { return }
        let d = config.hiddenSize, t = config.sequenceLength
        let patchRows = batch * config.gridSize * config.gridSize
        let patchWidth = config.numChannels * config.patchSize * config.patchSize
        patches = FloatBuffer(count: patchRows * patchWidth)
        patchOut = FloatBuffer(count: patchRows * d)
        embeddings = FloatBuffer(count: batch * t * d)
        preMean = FloatBuffer(count: batch * t)
        preRstd = FloatBuffer(count: batch * t)
        classTokens = FloatBuffer(count: batch * d)
        pooled = FloatBuffer(count: batch * d)
        postMean = FloatBuffer(count: batch)
        postRstd = FloatBuffer(count: batch)
        pooledGradient = FloatBuffer(count: batch * d)
        classGradient = FloatBuffer(count: batch * d)
        embeddingGradient = FloatBuffer(count: batch * t * d)
        patchGradient = FloatBuffer(count: patchRows * d)
        capacity = batch
    }

    /// Encodes `batch` preprocessed images `[batch, channels, size, size]`
    /// (NCHW) into `output` `[batch, projectionDim]`.
    ///
    /// With `retainActivations` (training) the activations stay in the
    /// workspace for `backward`; without (inference) layers share one cache
    /// and any earlier training activations are discarded.
    public func forward(pixels: UnsafeBufferPointer<Float>, batch: Int,
                        output: UnsafeMutableBufferPointer<Float>,
                        retainActivations: Bool = true) throws(ModelError) {
        guard batch > 0 else { throw .invalidBatch(batch) }
        guard pixels.count == batch * valuesPerImage else {
            throw .sizeMismatch(what: "pixel input for \(batch) images of \(config.numChannels)x\(config.imageSize)x\(config.imageSize)",
                                expected: batch * valuesPerImage, got: pixels.count)
        }
        guard output.count == batch * projectionDim else {
            throw .sizeMismatch(what: "image embedding output for \(batch) images",
                                expected: batch * projectionDim, got: output.count)
        }
        guard let pixelBase = pixels.baseAddress, let outputBase = output.baseAddress else {
            throw .sizeMismatch(what: "pixel input", expected: batch * valuesPerImage, got: 0)
        }
        trainingBatch = nil
        reserve(batch: batch)
        encoder.prepare(batch: batch, retainActivations: retainActivations)

        let d = config.hiddenSize, t = config.sequenceLength
        let patchesPerImage = config.gridSize * config.gridSize
        let patchWidth = config.numChannels * config.patchSize * config.patchSize
        let values = parameters.values.pointer
        let o = offsets

        // Patch embedding: a bias-free conv with kernel = stride = patch.
        PatchEmbedding.im2col(images: pixelBase, batch: batch, channels: config.numChannels,
                              size: config.imageSize, patch: config.patchSize, out: patches.pointer)
        Linear.forward(x: patches.pointer, rows: batch * patchesPerImage, inFeatures: patchWidth,
                       outFeatures: d, weight: values + o.patchWeight, bias: nil, y: patchOut.pointer)
        // [class; patches] + positions.
        let emb = embeddings.pointer
        let classEmbedding = values + o.classEmbedding
        let positions = values + o.positionEmbedding
        for b in 0..<batch {
            let sample = emb + b * t * d
            for j in 0..<d { sample[j] = classEmbedding[j] + positions[j] }
            let patchRows = patchOut.pointer + b * patchesPerImage * d
            for j in 0..<(patchesPerImage * d) { sample[d + j] = patchRows[j] + positions[d + j] }
        }
        LayerNorm.forward(x: emb, rows: batch * t, cols: d,
                          gamma: values + o.preNormWeight, beta: values + o.preNormBias, eps: config.layerNormEps,
                          y: encoder.input, mean: preMean.pointer, rstd: preRstd.pointer)
        let last = encoder.forward()
        // Pool the class token, normalise, project.
        for b in 0..<batch {
            (classTokens.pointer + b * d).update(from: last + b * t * d, count: d)
        }
        LayerNorm.forward(x: classTokens.pointer, rows: batch, cols: d,
                          gamma: values + o.postNormWeight, beta: values + o.postNormBias, eps: config.layerNormEps,
                          y: pooled.pointer, mean: postMean.pointer, rstd: postRstd.pointer)
        Linear.forward(x: pooled.pointer, rows: batch, inFeatures: d, outFeatures: projectionDim,
                       weight: values + o.projection, bias: nil, y: outputBase)
        if retainActivations { trainingBatch = batch }
    }

    /// Back-propagates `dEmbeds` `[batch, projectionDim]` (the gradient of the
    /// loss with respect to the last forward pass's output) and ACCUMULATES
    /// the parameter gradients into `parameters.gradients`.
    public func backward(dEmbeds: UnsafeBufferPointer<Float>) throws(ModelError) {
        guard let batch = trainingBatch else { throw .noForwardPass(tower: "image tower") }
        guard dEmbeds.count == batch * projectionDim, let dOut = dEmbeds.baseAddress else {
            throw .sizeMismatch(what: "image embedding gradient for \(batch) images",
                                expected: batch * projectionDim, got: dEmbeds.count)
        }
        let d = config.hiddenSize, t = config.sequenceLength
        let patchesPerImage = config.gridSize * config.gridSize
        let patchWidth = config.numChannels * config.patchSize * config.patchSize
        let values = parameters.values.pointer
        let grads = parameters.gradients.pointer
        let o = offsets

        Linear.backward(dy: dOut, x: pooled.pointer, rows: batch, inFeatures: d, outFeatures: projectionDim,
                        weight: values + o.projection, dx: pooledGradient.pointer, accumulateInput: false,
                        dWeight: grads + o.projection, dBias: nil)
        LayerNorm.backward(dy: pooledGradient.pointer, x: classTokens.pointer,
                           mean: postMean.pointer, rstd: postRstd.pointer, rows: batch, cols: d,
                           gamma: values + o.postNormWeight, dx: classGradient.pointer, accumulateInput: false,
                           dGamma: grads + o.postNormWeight, dBeta: grads + o.postNormBias)
        let dStream = encoder.gradientStream
        dStream.update(repeating: 0, count: batch * t * d)
        for b in 0..<batch {
            (dStream + b * t * d).update(from: classGradient.pointer + b * d, count: d)
        }
        encoder.backward()
        let dEmb = embeddingGradient.pointer
        LayerNorm.backward(dy: dStream, x: embeddings.pointer, mean: preMean.pointer, rstd: preRstd.pointer,
                           rows: batch * t, cols: d, gamma: values + o.preNormWeight,
                           dx: dEmb, accumulateInput: false,
                           dGamma: grads + o.preNormWeight, dBeta: grads + o.preNormBias)
        for b in 0..<batch {
            let sample = dEmb + b * t * d
            BLAS.axpy(count: d, alpha: 1, x: sample, y: grads + o.classEmbedding)
            BLAS.axpy(count: t * d, alpha: 1, x: sample, y: grads + o.positionEmbedding)
            (patchGradient.pointer + b * patchesPerImage * d).update(from: sample + d, count: patchesPerImage * d)
        }
        Linear.backward(dy: patchGradient.pointer, x: patches.pointer, rows: batch * patchesPerImage,
                        inFeatures: patchWidth, outFeatures: d, weight: values + o.patchWeight,
                        dx: nil, accumulateInput: false, dWeight: grads + o.patchWeight, dBias: nil)
    }
}
