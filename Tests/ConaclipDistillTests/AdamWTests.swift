import Foundation
import Testing
@testable import ConaclipDistill

/// Distance in units in the last place between two floats of the same sign
/// (0 when bitwise equal); large for different signs.
private func ulpDistance(_ a: Float, _ b: Float) -> Int {
    if a == b { return 0 }
    guard a.sign == b.sign, a.isFinite, b.isFinite else { return Int.max }
    return abs(Int(a.bitPattern) - Int(b.bitPattern))
}

private func maxULP(_ a: [Float], _ b: [Float]) -> Int {
    precondition(a.count == b.count)
    return zip(a, b).map { ulpDistance($0, $1) }.max() ?? 0
}

/// The inputs of Tests/Reference/adamw_reference.py, mirrored here.
private enum Trace {
    static let layout: [(String, [Int])] = [
        ("text_model.encoder.layers.0.mlp.fc1.weight", [2, 3]),
        ("text_model.encoder.layers.0.mlp.fc1.bias", [3]),
        ("text_model.embeddings.token_embedding.weight", [2, 2]),
        ("logit_scale", []),
    ]
    static let initial: [Float] = [0.5, -1.25, 0.75, 2.0, -0.3, 0.125, 0.1, -0.2, 0.05,
                                   1.5, -0.5, 0.25, -2.5, 2.6592]
    static let grads: [[Float]] = [
        [0.1, -0.2, 0.3, 0.0, 1.5, -0.05, 0.01, 0.2, -0.3, 0.4, 0.0, -1.0, 2.0, -0.7],
        [-0.05, 0.25, 0.3, 0.2, -1.0, 0.5, 0.02, -0.1, 0.0, 0.3, 0.6, -0.2, 1.0, 0.35],
    ]
    static let lrs: [Double] = [1e-2, 5e-3]

    static func store() throws -> ParameterStore {
        var layout = ParameterLayout()
        for (name, shape) in Trace.layout { try layout.add(name, shape: shape) }
        let store = ParameterStore(layout: layout)
        for (k, v) in initial.enumerated() { store.values[k] = v }
        return store
    }

    static func setGradients(_ store: ParameterStore, _ g: [Float]) {
        for (k, v) in g.enumerated() { store.gradients[k] = v }
    }
}

@Suite("AdamW")
struct AdamWTests {
    /// Runs the two-step trace and compares with torch after each step.
    private func checkTrace(_ config: AdamWConfig, expected: [(p: [Float], m: [Float], v: [Float])]) throws {
        let store = try Trace.store()
        let adam = AdamW(store: store, config: config)
        for step in 0..<2 {
            Trace.setGradients(store, Trace.grads[step])
            try adam.step(learningRate: Trace.lrs[step])
            #expect(adam.stepCount == step + 1)
            // torch's vector kernels may fuse multiply-adds, so allow a few ulp.
            #expect(maxULP(store.values.array, expected[step].p) <= 4, "params after step \(step + 1)")
            #expect(maxULP(adam.firstMoment.array, expected[step].m) <= 2, "exp_avg after step \(step + 1)")
            #expect(maxULP(adam.secondMoment.array, expected[step].v) <= 2, "exp_avg_sq after step \(step + 1)")
        }
    }

    @Test("two steps match torch.optim.AdamW (CLIP-like betas)")
    func torchTraceClipLike() throws {
        typealias R = TorchAdamWReference
        try checkTrace(AdamWConfig(beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.1), expected: [
            (R.clipLikeStep1Params, R.clipLikeStep1M, R.clipLikeStep1V),
            (R.clipLikeStep2Params, R.clipLikeStep2M, R.clipLikeStep2V),
        ])
    }

    @Test("two steps match torch.optim.AdamW (beta1 < 0.5: the other lerp branch)")
    func torchTraceSmallBetas() throws {
        typealias R = TorchAdamWReference
        try checkTrace(AdamWConfig(beta1: 0.3, beta2: 0.5, eps: 1e-3, weightDecay: 0.5), expected: [
            (R.smallBetasStep1Params, R.smallBetasStep1M, R.smallBetasStep1V),
            (R.smallBetasStep2Params, R.smallBetasStep2M, R.smallBetasStep2V),
        ])
    }

    @Test("weight decay rule on Hugging Face CLIP names")
    func decayRule() throws {
        let cases: [(String, [Int], Bool)] = [
            ("vision_model.encoder.layers.0.self_attn.q_proj.weight", [64, 64], true),
            ("vision_model.encoder.layers.0.self_attn.q_proj.bias", [64], false),
            ("text_model.encoder.layers.3.mlp.fc2.weight", [64, 256], true),
            ("visual_projection.weight", [32, 64], true),
            ("text_projection.weight", [32, 64], true),
            ("vision_model.embeddings.patch_embedding.weight", [64, 3, 16, 16], true),
            ("vision_model.embeddings.class_embedding", [64], false),
            ("vision_model.embeddings.position_embedding.weight", [50, 64], false),
            ("text_model.embeddings.token_embedding.weight", [49408, 64], false),
            ("text_model.embeddings.position_embedding.weight", [77, 64], false),
            ("vision_model.pre_layrnorm.weight", [64], false),
            ("vision_model.post_layernorm.bias", [64], false),
            ("text_model.final_layer_norm.weight", [64], false),
            ("text_model.encoder.layers.0.layer_norm1.weight", [64], false),
            ("logit_scale", [], false),
            // The name rule also guards unusual shapes.
            ("some.layer_norm.weight", [4, 4], false),
            ("some.odd.bias", [4, 4], false),
        ]
        for (name, shape, decays) in cases {
            #expect(WeightDecayRule.clip(name: name, shape: shape) == decays, "\(name)")
        }
        let store = try Trace.store()
        let adam = AdamW(store: store, config: try AdamWConfig())
        #expect(adam.decays("text_model.encoder.layers.0.mlp.fc1.weight") == true)
        #expect(adam.decays("logit_scale") == false)
        #expect(adam.decays("missing") == nil)
        // fc1.weight alone, then bias + token embedding + logit_scale merged.
        #expect(adam.segments.map(\.range) == [0..<6, 6..<14])
        #expect(adam.segments.map(\.decays) == [true, false])
    }

    @Test("a restored state continues bit-exactly")
    func checkpointRestore() throws {
        let config = try AdamWConfig(beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.1)
        let grads = Trace.grads + [Trace.grads[0].map { -$0 * 0.5 }]
        let lrs = Trace.lrs + [2e-3]

        let straight = try Trace.store()
        let a = AdamW(store: straight, config: config)
        var saved: (AdamWState, [Float])?
        for k in 0..<3 {
            if k == 1 { saved = (a.state(), straight.values.array) }
            Trace.setGradients(straight, grads[k])
            try a.step(learningRate: lrs[k])
        }

        let resumed = try Trace.store()
        let (state, values) = try #require(saved)
        for (k, v) in values.enumerated() { resumed.values[k] = v }
        let b = AdamW(store: resumed, config: config)
        try b.restore(state)
        #expect(b.stepCount == 1)
        for k in 1..<3 {
            Trace.setGradients(resumed, grads[k])
            try b.step(learningRate: lrs[k])
        }
        #expect(resumed.values.array.map(\.bitPattern) == straight.values.array.map(\.bitPattern))
        #expect(b.state().firstMoment.map(\.bitPattern) == a.state().firstMoment.map(\.bitPattern))
        #expect(b.state().secondMoment.map(\.bitPattern) == a.state().secondMoment.map(\.bitPattern))
        #expect(b.stepCount == 3)
    }

    @Test("bad settings and states are refused")
    func errors() throws {
        #expect(throws: OptimizerError.self) { try AdamWConfig(beta1: 1) }
        #expect(throws: OptimizerError.self) { try AdamWConfig(beta2: -0.1) }
        #expect(throws: OptimizerError.self) { try AdamWConfig(eps: .nan) }
        #expect(throws: OptimizerError.self) { try AdamWConfig(weightDecay: -1) }
        let store = try Trace.store()
        let adam = AdamW(store: store, config: try AdamWConfig())
        #expect(throws: OptimizerError.invalidLearningRate(-1)) { try adam.step(learningRate: -1) }
        #expect(throws: OptimizerError.self) { try adam.step(learningRate: .infinity) }
        #expect(adam.stepCount == 0)
        #expect(store.values.array == Trace.initial)  // refused steps change nothing
        #expect(throws: OptimizerError.stateSizeMismatch(expected: 14, firstMoment: 3, secondMoment: 14)) {
            try adam.restore(AdamWState(step: 1, firstMoment: [0, 0, 0], secondMoment: .init(repeating: 0, count: 14)))
        }
        #expect(throws: OptimizerError.invalidStepCount(-2)) {
            try adam.restore(AdamWState(step: -2, firstMoment: .init(repeating: 0, count: 14),
                                        secondMoment: .init(repeating: 0, count: 14)))
        }
    }

    @Test("config decodes from snake_case JSON with torch defaults")
    func decoding() throws {
        let json = #"{"beta2": 0.98, "weight_decay": 0.2, "eps": 1e-6}"#
        let config = try JSONDecoder().decode(AdamWConfig.self, from: Data(json.utf8))
        #expect(config == (try AdamWConfig(beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.2)))
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(AdamWConfig.self, from: Data(#"{"beta1": 1.5}"#.utf8))
        }
    }
}
