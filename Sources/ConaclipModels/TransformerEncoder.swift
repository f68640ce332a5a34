/// The stack of pre-norm transformer layers both CLIP towers share
/// (Hugging Face `CLIPEncoder`), with a hand-written backward pass.
///
/// Each layer computes `x = x + out_proj(attn(layer_norm1(x)))` then
/// `x = x + fc2(act(fc1(layer_norm2(x))))`. The q, k and v projections are
/// registered back to back (weights, then biases), so one GEMM with a
/// `[3 * width, width]` weight yields the fused `[tokens, 3 * width]` qkv.
///
/// The encoder owns its workspace: the residual stream snapshots and the
/// per-layer activations the backward pass needs, sized for the largest batch
/// seen so far and reused afterwards (no allocation per step). A tower writes
/// its embeddings into `input`, calls `forward`, and for training writes the
/// gradient of the output into `gradientStream` and calls `backward`, which
/// leaves the gradient of the input there and accumulates parameter
/// gradients into the store. Single-threaded and deterministic.
public final class TransformerEncoder {
    /// Offsets (in floats, into the parameter store) of one layer's tensors.
    struct LayerOffsets {
        var qkvWeight = 0, qkvBias = 0, outWeight = 0, outBias = 0
        var norm1Weight = 0, norm1Bias = 0, norm2Weight = 0, norm2Bias = 0
        var fc1Weight = 0, fc1Bias = 0, fc2Weight = 0, fc2Bias = 0
    }

    /// The activations one layer keeps from its forward pass.
    final class LayerCache {
        let norm1Out, norm1Mean, norm1Rstd, qkv, probabilities, attention: FloatBuffer
        let residual, norm2Out, norm2Mean, norm2Rstd, fc1Out: FloatBuffer

        init(tokens: Int, width: Int, intermediate: Int, probabilities: Int) {
            norm1Out = FloatBuffer(count: tokens * width)
            norm1Mean = FloatBuffer(count: tokens)
            norm1Rstd = FloatBuffer(count: tokens)
            qkv = FloatBuffer(count: tokens * 3 * width)
            self.probabilities = FloatBuffer(count: probabilities)
            attention = FloatBuffer(count: tokens * width)
            residual = FloatBuffer(count: tokens * width)
            norm2Out = FloatBuffer(count: tokens * width)
            norm2Mean = FloatBuffer(count: tokens)
            norm2Rstd = FloatBuffer(count: tokens)
            fc1Out = FloatBuffer(count: tokens * intermediate)
        }
    }

    public let width: Int
    public let intermediateSize: Int
    public let layerCount: Int
    public let heads: Int
    /// Tokens per sample.
    public let sequenceLength: Int
    /// Text towers attend causally; image towers attend to every token.
    public let causal: Bool
    public let activation: Activation
    public let layerNormEps: Float
    let parameters: ParameterStore
    let offsets: [LayerOffsets]

    // Workspace, grown by `prepare` only.
    private(set) var capacityBatch = 0
    private var capacityCaches = 0
    private var streams: [FloatBuffer] = []
    private var caches: [LayerCache] = []
    private var hidden = FloatBuffer(count: 0)
    private var hiddenGradient = FloatBuffer(count: 0)
    private var normGradient = FloatBuffer(count: 0)
    private var attentionGradient = FloatBuffer(count: 0)
    private var qkvGradient = FloatBuffer(count: 0)
    private var attentionScratch = FloatBuffer(count: 0)
    private var streamGradient = FloatBuffer(count: 0)
    /// Batch and mode of the last `prepare`.
    private var batch = 0
    private var retainsActivations = false

    init(width: Int, intermediateSize: Int, layerCount: Int, heads: Int, sequenceLength: Int,
         causal: Bool, activation: Activation, layerNormEps: Float,
         parameters: ParameterStore, offsets: [LayerOffsets]) {
        precondition(offsets.count == layerCount, "one offset set per layer")
        self.width = width; self.intermediateSize = intermediateSize
        self.layerCount = layerCount; self.heads = heads
        self.sequenceLength = sequenceLength; self.causal = causal
        self.activation = activation; self.layerNormEps = layerNormEps
        self.parameters = parameters; self.offsets = offsets
    }

    /// Registers the layers' parameters under `prefix` (for example
    /// `vision_model.encoder`) with Hugging Face names.
    static func register(prefix: String, layers: Int, width: Int, intermediateSize: Int,
                         layout: inout ParameterLayout) throws(TensorError) -> [LayerOffsets] {
        var result: [LayerOffsets] = []
        for i in 0..<layers {
            let p = "\(prefix).layers.\(i)"
            var o = LayerOffsets()
            // q, k, v weights back to back, then their biases: one fused GEMM.
            o.qkvWeight = try layout.add("\(p).self_attn.q_proj.weight", shape: [width, width])
            try layout.add("\(p).self_attn.k_proj.weight", shape: [width, width])
            try layout.add("\(p).self_attn.v_proj.weight", shape: [width, width])
            o.qkvBias = try layout.add("\(p).self_attn.q_proj.bias", shape: [width])
            try layout.add("\(p).self_attn.k_proj.bias", shape: [width])
            try layout.add("\(p).self_attn.v_proj.bias", shape: [width])
            o.outWeight = try layout.add("\(p).self_attn.out_proj.weight", shape: [width, width])
            o.outBias = try layout.add("\(p).self_attn.out_proj.bias", shape: [width])
            o.norm1Weight = try layout.add("\(p).layer_norm1.weight", shape: [width])
            o.norm1Bias = try layout.add("\(p).layer_norm1.bias", shape: [width])
            o.fc1Weight = try layout.add("\(p).mlp.fc1.weight", shape: [intermediateSize, width])
            o.fc1Bias = try layout.add("\(p).mlp.fc1.bias", shape: [intermediateSize])
            o.fc2Weight = try layout.add("\(p).mlp.fc2.weight", shape: [width, intermediateSize])
            o.fc2Bias = try layout.add("\(p).mlp.fc2.bias", shape: [width])
            o.norm2Weight = try layout.add("\(p).layer_norm2.weight", shape: [width])
            o.norm2Bias = try layout.add("\(p).layer_norm2.bias", shape: [width])
            result.append(o)
        }
        return result
    }

    /// Matrix-product FLOPs (2 per multiply-add) of one sample's forward pass
    /// through all layers; attention counted as full `seq x seq` products.
    public var forwardFLOPsPerSample: Int {
        let t = sequenceLength, d = width, f = intermediateSize
        let perLayer = 2 * t * d * (3 * d) + 2 * 2 * t * t * d + 2 * t * d * d + 2 * 2 * t * d * f
        return layerCount * perLayer
    }

    /// Sizes the workspace for `batch` samples. With `retainActivations`
    /// every layer keeps its activations for `backward`; without, layers share
    /// one cache (inference). Allocates only when the batch or the number of
    /// kept layers exceeds what earlier calls needed.
    func prepare(batch: Int, retainActivations: Bool) {
        let neededCaches = retainActivations ? max(layerCount, 1) : 1
        if batch > capacityBatch || neededCaches > capacityCaches {
            let newBatch = max(batch, capacityBatch)
            let newCaches = max(neededCaches, capacityCaches)
            allocate(batch: newBatch, caches: newCaches)
        }
        self.batch = batch
        self.retainsActivations = retainActivations
    }

    private func allocate(batch: Int, caches cacheCount: Int) {
        let tokens = batch * sequenceLength
        let probabilities = batch * heads * sequenceLength * sequenceLength
        // Kept activations need a stream snapshot per layer boundary; shared
        // caches (inference) ping-pong between two.
        let streamCount = cacheCount >= layerCount ? max(2, layerCount + 1) : 2
        streams = (0..<streamCount).map { _ in FloatBuffer(count: tokens * width) }
        caches = (0..<cacheCount).map { _ in
            LayerCache(tokens: tokens, width: width, intermediate: intermediateSize, probabilities: probabilities)
        }
        hidden = FloatBuffer(count: tokens * intermediateSize)
        hiddenGradient = FloatBuffer(count: tokens * intermediateSize)
        normGradient = FloatBuffer(count: tokens * width)
        attentionGradient = FloatBuffer(count: tokens * width)
        qkvGradient = FloatBuffer(count: tokens * 3 * width)
        attentionScratch = FloatBuffer(count: sequenceLength * sequenceLength)
        streamGradient = FloatBuffer(count: tokens * width)
        capacityBatch = batch
        capacityCaches = cacheCount
    }

    /// Where the caller writes the `[batch, seq, width]` input embeddings.
    var input: UnsafeMutablePointer<Float> { streams[0].pointer }

    /// Where the output gradient goes before `backward`, and the input
    /// gradient is found after it (`[batch, seq, width]`).
    var gradientStream: UnsafeMutablePointer<Float> { streamGradient.pointer }

    private func streamIndex(_ boundary: Int) -> Int {
        retainsActivations ? boundary : boundary % 2
    }

    private func attentionShape() -> AttentionShape {
        AttentionShape(batch: batch, seq: sequenceLength, heads: heads, headDim: width / heads,
                       stride: 3 * width, causal: causal)
    }

    /// Runs all layers on `input`; returns the output `[batch, seq, width]`
    /// (valid until the next `prepare`/`forward`).
    func forward() -> UnsafeMutablePointer<Float> {
        let tokens = batch * sequenceLength
        let d = width, f = intermediateSize
        let values = parameters.values.pointer
        let shape = attentionShape()
        for layer in 0..<layerCount {
            let o = offsets[layer]
            let c = caches[retainsActivations ? layer : 0]
            let x = streams[streamIndex(layer)].pointer
            let out = streams[streamIndex(layer + 1)].pointer
            LayerNorm.forward(x: x, rows: tokens, cols: d,
                              gamma: values + o.norm1Weight, beta: values + o.norm1Bias, eps: layerNormEps,
                              y: c.norm1Out.pointer, mean: c.norm1Mean.pointer, rstd: c.norm1Rstd.pointer)
            Linear.forward(x: c.norm1Out.pointer, rows: tokens, inFeatures: d, outFeatures: 3 * d,
                           weight: values + o.qkvWeight, bias: values + o.qkvBias, y: c.qkv.pointer)
            let qkv = c.qkv.pointer
            Attention.forward(q: qkv, k: qkv + d, v: qkv + 2 * d, shape: shape,
                              probabilities: c.probabilities.pointer, out: c.attention.pointer)
            Linear.forward(x: c.attention.pointer, rows: tokens, inFeatures: d, outFeatures: d,
                           weight: values + o.outWeight, bias: values + o.outBias, y: c.residual.pointer)
            BLAS.axpy(count: tokens * d, alpha: 1, x: x, y: c.residual.pointer)
            LayerNorm.forward(x: c.residual.pointer, rows: tokens, cols: d,
                              gamma: values + o.norm2Weight, beta: values + o.norm2Bias, eps: layerNormEps,
                              y: c.norm2Out.pointer, mean: c.norm2Mean.pointer, rstd: c.norm2Rstd.pointer)
            Linear.forward(x: c.norm2Out.pointer, rows: tokens, inFeatures: d, outFeatures: f,
                           weight: values + o.fc1Weight, bias: values + o.fc1Bias, y: c.fc1Out.pointer)
            activation.forward(x: c.fc1Out.pointer, y: hidden.pointer, count: tokens * f)
            Linear.forward(x: hidden.pointer, rows: tokens, inFeatures: f, outFeatures: d,
                           weight: values + o.fc2Weight, bias: values + o.fc2Bias, y: out)
            BLAS.axpy(count: tokens * d, alpha: 1, x: c.residual.pointer, y: out)
        }
        return streams[streamIndex(layerCount)].pointer
    }

    /// Back-propagates `gradientStream` (the output gradient) through all
    /// layers of the last forward pass, which must have kept its activations.
    /// Leaves the input gradient in `gradientStream`; parameter gradients
    /// accumulate into the store.
    func backward() {
        precondition(retainsActivations, "backward needs a forward pass that kept its activations")
        let tokens = batch * sequenceLength
        let d = width, f = intermediateSize
        let values = parameters.values.pointer
        let grads = parameters.gradients.pointer
        let dStream = streamGradient.pointer
        let shape = attentionShape()
        for layer in stride(from: layerCount - 1, through: 0, by: -1) {
            let o = offsets[layer]
            let c = caches[layer]
            let x = streams[layer].pointer
            // MLP branch. The activation output is recomputed rather than kept.
            activation.forward(x: c.fc1Out.pointer, y: hidden.pointer, count: tokens * f)
            Linear.backward(dy: dStream, x: hidden.pointer, rows: tokens, inFeatures: f, outFeatures: d,
                            weight: values + o.fc2Weight, dx: hiddenGradient.pointer, accumulateInput: false,
                            dWeight: grads + o.fc2Weight, dBias: grads + o.fc2Bias)
            activation.backward(dy: hiddenGradient.pointer, x: c.fc1Out.pointer,
                                dx: hiddenGradient.pointer, count: tokens * f)
            Linear.backward(dy: hiddenGradient.pointer, x: c.norm2Out.pointer, rows: tokens,
                            inFeatures: d, outFeatures: f, weight: values + o.fc1Weight,
                            dx: normGradient.pointer, accumulateInput: false,
                            dWeight: grads + o.fc1Weight, dBias: grads + o.fc1Bias)
            LayerNorm.backward(dy: normGradient.pointer, x: c.residual.pointer,
                               mean: c.norm2Mean.pointer, rstd: c.norm2Rstd.pointer, rows: tokens, cols: d,
                               gamma: values + o.norm2Weight, dx: dStream, accumulateInput: true,
                               dGamma: grads + o.norm2Weight, dBeta: grads + o.norm2Bias)
            // Attention branch; dStream now holds the gradient of the residual.
            Linear.backward(dy: dStream, x: c.attention.pointer, rows: tokens, inFeatures: d, outFeatures: d,
                            weight: values + o.outWeight, dx: attentionGradient.pointer, accumulateInput: false,
                            dWeight: grads + o.outWeight, dBias: grads + o.outBias)
            let qkv = c.qkv.pointer, dqkv = qkvGradient.pointer
            Attention.backward(dOut: attentionGradient.pointer, q: qkv, k: qkv + d, v: qkv + 2 * d,
                               probabilities: c.probabilities.pointer, shape: shape,
                               dq: dqkv, dk: dqkv + d, dv: dqkv + 2 * d, scratch: attentionScratch.pointer)
            Linear.backward(dy: dqkv, x: c.norm1Out.pointer, rows: tokens, inFeatures: d, outFeatures: 3 * d,
                            weight: values + o.qkvWeight, dx: normGradient.pointer, accumulateInput: false,
                            dWeight: grads + o.qkvWeight, dBias: grads + o.qkvBias)
            LayerNorm.backward(dy: normGradient.pointer, x: x,
                               mean: c.norm1Mean.pointer, rstd: c.norm1Rstd.pointer, rows: tokens, cols: d,
                               gamma: values + o.norm1Weight, dx: dStream, accumulateInput: true,
                               dGamma: grads + o.norm1Weight, dBeta: grads + o.norm1Bias)
        }
    }
}
