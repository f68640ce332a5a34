/// The CLIP text tower (Hugging Face `CLIPTextModel` plus `text_projection`):
/// token and position embeddings, the causal encoder, `final_layer_norm`,
/// pooling at the end-of-text token and the bias-free projection. Produces
/// raw (not normalised) text embeddings.
///
/// Input is `[batch, maxPositionEmbeddings]` Int32 token ids, always padded
/// to the full context length. Pooling follows Hugging Face: the first
/// position whose id equals `eosTokenId`, or, when the config carries the
/// legacy `eos_token_id == 2` of the original OpenAI conversions, the
/// position of the largest id (the end-of-text token is the largest id in
/// CLIP's vocabulary). A row without the token pools at its last position
/// (Hugging Face would silently pool position 0 there; tokenizers always
/// emit the token, so this only matters for hand-made input).
/// Because attention is causal and only the final norm of the pooled row is
/// used, rows after the pooled position do not change the result.
///
/// Single-threaded, deterministic, not safe for concurrent use. Create it
/// through `CLIPModel`, which owns the parameter store.
public final class TextTransformer {
    /// Offsets of the tower's own tensors in the parameter store.
    struct Offsets {
        var tokenEmbedding = 0, positionEmbedding = 0
        var finalNormWeight = 0, finalNormBias = 0
        var projection = 0
        var layers: [TransformerEncoder.LayerOffsets] = []
    }

    public let config: CLIPTextConfig
    /// Width of the output embeddings.
    public let projectionDim: Int
    public let parameters: ParameterStore
    /// The transformer layers (exposed for sizes and FLOP counts).
    public let encoder: TransformerEncoder
    let offsets: Offsets

    // Workspace, grown only when the batch exceeds the capacity.
    private var capacity = 0
    private var tokenIds: [Int32] = []
    private var poolPositions: [Int] = []
    private var pooledInput = FloatBuffer(count: 0)
    private var pooled = FloatBuffer(count: 0)
    private var normMean = FloatBuffer(count: 0)
    private var normRstd = FloatBuffer(count: 0)
    private var pooledGradient = FloatBuffer(count: 0)
    private var pooledInputGradient = FloatBuffer(count: 0)
    private var trainingBatch: Int?

    init(config: CLIPTextConfig, projectionDim: Int, parameters: ParameterStore, offsets: Offsets) {
        self.config = config
        self.projectionDim = projectionDim
        self.parameters = parameters
        self.offsets = offsets
        encoder = TransformerEncoder(
            width: config.hiddenSize, intermediateSize: config.intermediateSize,
            layerCount: config.numHiddenLayers, heads: config.numAttentionHeads,
            sequenceLength: config.maxPositionEmbeddings, causal: true, activation: config.hiddenAct,
            layerNormEps: config.layerNormEps, parameters: parameters, offsets: offsets.layers)
    }

    /// Registers `text_model.*` with Hugging Face names and shapes
    /// (the projection is registered by `CLIPModel`, in HF's order).
    static func register(config: CLIPTextConfig, layout: inout ParameterLayout) throws(TensorError) -> Offsets {
        let d = config.hiddenSize
        var o = Offsets()
        o.tokenEmbedding = try layout.add("text_model.embeddings.token_embedding.weight", shape: [config.vocabSize, d])
        o.positionEmbedding = try layout.add("text_model.embeddings.position_embedding.weight",
                                             shape: [config.maxPositionEmbeddings, d])
        o.layers = try TransformerEncoder.register(prefix: "text_model.encoder", layers: config.numHiddenLayers,
                                                   width: d, intermediateSize: config.intermediateSize,
                                                   layout: &layout)
        o.finalNormWeight = try layout.add("text_model.final_layer_norm.weight", shape: [d])
        o.finalNormBias = try layout.add("text_model.final_layer_norm.bias", shape: [d])
        return o
    }

    /// Tokens per caption (the context length).
    public var contextLength: Int { config.maxPositionEmbeddings }

    /// Matrix-product FLOPs (2 per multiply-add) of one caption's forward
    /// pass: the encoder over the full context and the projection.
    public var forwardFLOPsPerText: Int {
        encoder.forwardFLOPsPerSample + 2 * config.hiddenSize * projectionDim
    }

    /// The position the tower pools for one row of ids (see the type's doc).
    public func poolPosition(ids: UnsafeBufferPointer<Int32>) -> Int {
        guard !ids.isEmpty else { return 0 }
        if config.eosTokenId == 2 {
            // Hugging Face's legacy branch: argmax of the ids (first maximum).
            var best = 0
            for i in 1..<ids.count where ids[i] > ids[best] { best = i }
            return best
        }
        for i in 0..<ids.count where Int(ids[i]) == config.eosTokenId { return i }
        return ids.count - 1
    }

    private func reserve(batch: Int) {
        guard batch > capacity else { return }
        let d = config.hiddenSize
        tokenIds = [Int32](repeating: 0, count: batch * contextLength)
        poolPositions = [Int](repeating: 0, count: batch)
        pooledInput = FloatBuffer(count: batch * d)
        pooled = FloatBuffer(count: batch * d)
        normMean = FloatBuffer(count: batch)
        normRstd = FloatBuffer(count: batch)
        pooledGradient = FloatBuffer(count: batch * d)
        pooledInputGradient = FloatBuffer(count: batch * d)
        capacity = batch
    }

    /// Checks that `ids` holds `batch` rows of `contextLength` ids, each in
    /// `0..<vocabSize`.
    public func validate(ids: UnsafeBufferPointer<Int32>, batch: Int) throws(ModelError) {
        guard batch > 0 else { throw .invalidBatch(batch) }
        guard ids.count == batch * contextLength else {
            throw .sizeMismatch(what: "token ids for \(batch) captions of \(contextLength) tokens",
                                expected: batch * contextLength, got: ids.count)
        }
        let vocab = config.vocabSize
        for i in 0..<ids.count where ids[i] < 0 || Int(ids[i]) >= vocab {
            throw .tokenOutOfRange(row: i / contextLength, position: i % contextLength, id: ids[i], vocabSize: vocab)
        }
    }

    /// Encodes `batch` captions of token ids `[batch, contextLength]` into
    /// `output` `[batch, projectionDim]`.
    ///
    /// With `retainActivations` (training) the activations stay in the
    /// workspace for `backward`; without (inference) layers share one cache
    /// and any earlier training activations are discarded.
    public func forward(ids: UnsafeBufferPointer<Int32>, batch: Int,
                        output: UnsafeMutableBufferPointer<Float>,
                        retainActivations: Bool = true) throws(ModelError) {
        try validate(ids: ids, batch: batch)
        guard output.count == batch * projectionDim, let outputBase = output.baseAddress,
              let idBase = ids.baseAddress else {
            throw .sizeMismatch(what: "text embedding output for \(batch) captions",
                                expected: batch * projectionDim, got: output.count)
        }
        trainingBatch = nil
        reserve(batch: batch)
        encoder.prepare(batch: batch, retainActivations: retainActivations)

        let d = config.hiddenSize, t = contextLength
        let values = parameters.values.pointer
        let o = offsets
        for b in 0..<batch {
            poolPositions[b] = poolPosition(ids: UnsafeBufferPointer(start: idBase + b * t, count: t))
        }
        tokenIds.withUnsafeMutableBufferPointer { kept in
            kept.baseAddress?.update(from: idBase, count: batch * t)
        }
        let input = encoder.input
        EmbeddingLookup.forward(ids: idBase, count: batch * t, table: values + o.tokenEmbedding, dim: d, out: input)
        for b in 0..<batch {
            BLAS.axpy(count: t * d, alpha: 1, x: values + o.positionEmbedding, y: input + b * t * d)
        }
        let last = encoder.forward()
        // final_layer_norm is per token, so normalising only the pooled rows
        // gives exactly Hugging Face's values for them.
        for b in 0..<batch {
            (pooledInput.pointer + b * d).update(from: last + (b * t + poolPositions[b]) * d, count: d)
        }
        LayerNorm.forward(x: pooledInput.pointer, rows: batch, cols: d,
                          gamma: values + o.finalNormWeight, beta: values + o.finalNormBias, eps: config.layerNormEps,
                          y: pooled.pointer, mean: normMean.pointer, rstd: normRstd.pointer)
        Linear.forward(x: pooled.pointer, rows: batch, inFeatures: d, outFeatures: projectionDim,
                       weight: values + o.projection, bias: nil, y: outputBase)
        if retainActivations { trainingBatch = batch }
    }

    /// Back-propagates `dEmbeds` `[batch, projectionDim]` (the gradient of the
    /// loss with respect to the last forward pass's output) and ACCUMULATES
    /// the parameter gradients into `parameters.gradients`.
    public func backward(dEmbeds: UnsafeBufferPointer<Float>) throws(ModelError) {
        guard let batch = trainingBatch else { throw .noForwardPass(tower: "text tower") }
        guard dEmbeds.count == batch * projectionDim, let dOut = dEmbeds.baseAddress else {
            throw .sizeMismatch(what: "text embedding gradient for \(batch) captions",
                                expected: batch * projectionDim, got: dEmbeds.count)
        }
        let d = config.hiddenSize, t = contextLength
        let values = parameters.values.pointer
        let grads = parameters.gradients.pointer
        let o = offsets

        Linear.backward(dy: dOut, x: pooled.pointer, rows: batch, inFeatures: d, outFeatures: projectionDim,
                        weight: values + o.projection, dx: pooledGradient.pointer, accumulateInput: false,
                        dWeight: grads + o.projection, dBias: nil)
        LayerNorm.backward(dy: pooledGradient.pointer, x: pooledInput.pointer,
                           mean: normMean.pointer, rstd: normRstd.pointer, rows: batch, cols: d,
                           gamma: values + o.finalNormWeight, dx: pooledInputGradient.pointer, accumulateInput: false,
                           dGamma: grads + o.finalNormWeight, dBeta: grads + o.finalNormBias)
        let dStream = encoder.gradientStream
        dStream.update(repeating: 0, count: batch * t * d)
        for b in 0..<batch {
            (dStream + (b * t + poolPositions[b]) * d).update(from: pooledInputGradient.pointer + b * d, count: d)
        }
        encoder.backward()
        tokenIds.withUnsafeBufferPointer { kept in
            if let base = kept.baseAddress {
                EmbeddingLookup.backward(dOut: dStream, ids: base, count: batch * t, dim: d,
                                         dTable: grads + o.tokenEmbedding)
            }
        }
        for b in 0..<batch {
            BLAS.axpy(count: t * d, alpha: 1, x: dStream + b * t * d, y: grads + o.positionEmbedding)
        }
    }
}
