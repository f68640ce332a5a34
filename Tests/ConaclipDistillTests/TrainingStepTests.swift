import Foundation
import Testing
@testable import ConaclipDistill

/// Tiny student and teacher models and a deterministic in-memory batch
/// source for the training tests (no files, no data layer).
enum TrainingFixture {
    static let bos: Int32 = 18, eos: Int32 = 19

    static func studentConfig() -> CLIPConfig {
        CLIPConfig(
            textConfig: CLIPTextConfig(vocabSize: 20, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 2,
                                       numAttentionHeads: 2, maxPositionEmbeddings: 8, hiddenAct: .quickGELU,
                                       bosTokenId: 18, eosTokenId: 19, padTokenId: 19),
            visionConfig: CLIPVisionConfig(hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 2,
                                           numAttentionHeads: 2, imageSize: 16, patchSize: 8, hiddenAct: .quickGELU),
            projectionDim: 8)
    }

    static func teacherConfig() -> CLIPConfig {
        CLIPConfig(
            textConfig: CLIPTextConfig(vocabSize: 20, hiddenSize: 24, intermediateSize: 48, numHiddenLayers: 1,
                                       numAttentionHeads: 2, maxPositionEmbeddings: 8, hiddenAct: .quickGELU,
                                       bosTokenId: 18, eosTokenId: 19, padTokenId: 19),
            visionConfig: CLIPVisionConfig(hiddenSize: 24, intermediateSize: 48, numHiddenLayers: 1,
                                           numAttentionHeads: 2, imageSize: 16, patchSize: 8, hiddenAct: .quickGELU),
            projectionDim: 8)
    }

    static func student(seed: UInt64 = 11) throws -> CLIPModel {
        let model = try CLIPModel(config: studentConfig())
        model.initialize(seed: seed)
        return model
    }

    static func teacher(seed: UInt64 = 5) throws -> FrozenTeacher {
        let model = try CLIPModel(config: teacherConfig())
        model.initialize(seed: seed)
        return FrozenTeacher(model: model)
    }

    /// METHOD.md's default combination.
    static func defaultTerms() throws -> [LossTerm] {
        try ["intra-ts:infonce:0.1", "intra-ts:fd:1", "intra-ts:sym-sd:1", "intra-ss:sd:1",
             "inter-ts:sym-kl:0.1", "inter-ss:kl:0.1"].map { spec throws(LossGraphError) in try LossTerm(spec: spec) }
    }

    static func step(student: CLIPModel, teacher: FrozenTeacher?, terms: [LossTerm], microShards: Int,
                     maxGradNorm: Double = 1.0) throws -> DistillationStep {
        try DistillationStep(student: student, teacher: teacher, terms: terms, taskWeight: 1, microShards: microShards,
                             optimizer: AdamWConfig(beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.1),
                             maxGradientNorm: maxGradNorm)
    }
}

/// Random pixels and captions: step `s`'s batch is a pure function of (seed, s).
final class RandomPairSource: TrainingBatchSource {
    let pairCount = 64
    let seed: UInt64
    init(seed: UInt64 = 3) { self.seed = seed }

    func fill(_ batch: TrainingBatch, step: Int, batchSize: Int) throws(TrainingError) {
        let config = TrainingFixture.studentConfig()
        let perImage = 3 * config.visionConfig.imageSize * config.visionConfig.imageSize
        let context = config.textConfig.maxPositionEmbeddings
        batch.resize(count: batchSize, valuesPerImage: perImage, contextLength: context)
        var random = DeterministicRandom(seed: seed, stream: "step-\(step)")
        for i in 0..<batchSize { batch.indices[i] = (step * batchSize + i) % pairCount }
        for i in 0..<batch.pixels.count { batch.pixels[i] = Float(random.nextNormal()) }
        for row in 0..<batchSize {
            let length = 1 + random.nextIndex(below: context - 2)
            batch.ids[row * context] = TrainingFixture.bos
            for p in 1...length { batch.ids[row * context + p] = Int32(1 + random.nextIndex(below: 17)) }
            for p in (length + 1)..<context { batch.ids[row * context + p] = TrainingFixture.eos }
        }
    }
}

@Suite struct TrainingStepTests {
    /// The gradient of one step after `computeGradients`.
    static func gradient(microShards: Int, terms: [LossTerm]) throws -> (gradient: [Float], total: Double) {
        let student = try TrainingFixture.student()
        let teacher = try TrainingFixture.teacher()
        let step = try TrainingFixture.step(student: student, teacher: teacher, terms: terms, microShards: microShards)
        let batch = TrainingBatch()
        try RandomPairSource().fill(batch, step: 0, batchSize: 8)
        let losses = try step.computeGradients(batch)
        return (student.parameters.gradients.array, losses.total)
    }

    @Test func microShardsGiveTheSameGradientUpToSummationOrder() throws {
        let terms = try TrainingFixture.defaultTerms()
        let one = try Self.gradient(microShards: 1, terms: terms)
        let norm = one.gradient.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(norm > 1e-3, "the gradient must not be trivially zero")
        for shards in [2, 4, 8] {
            let other = try Self.gradient(microShards: shards, terms: terms)
            // The loss is computed on the full batch either way; only the
            // embeddings' float rounding may differ with the shard size.
            #expect(abs(other.total - one.total) <= 1e-6 * abs(one.total), "micro_shards \(shards): \(other.total) vs \(one.total)")
            var worst = 0.0
            for i in one.gradient.indices {
                let a = Double(one.gradient[i]), b = Double(other.gradient[i])
                worst = max(worst, abs(a - b) / (1e-3 * norm + abs(a)))
            }
            #expect(worst < 1e-3, "micro_shards \(shards): relative gradient difference \(worst)")
        }
    }

    @Test func aFixedMicroShardCountIsBitIdenticalAcrossRuns() throws {
        let terms = try TrainingFixture.defaultTerms()
        for shards in [1, 4] {
            let first = try Self.gradient(microShards: shards, terms: terms)
            let second = try Self.gradient(microShards: shards, terms: terms)
            #expect(first.gradient == second.gradient, "micro_shards \(shards)")
        }
    }

    /// The loss of the full distillation step as a function of one parameter.
    static func totalLoss(_ step: DistillationStep, _ batch: TrainingBatch) throws -> Double {
        try step.computeGradients(batch).total
    }

    @Test func fullStepGradientMatchesFiniteDifferences() throws {
        let student = try TrainingFixture.student()
        let teacher = try TrainingFixture.teacher()
        let terms = try TrainingFixture.defaultTerms()
        let step = try TrainingFixture.step(student: student, teacher: teacher, terms: terms, microShards: 2)
        let batch = TrainingBatch()
        try RandomPairSource(seed: 9).fill(batch, step: 0, batchSize: 6)
        _ = try step.computeGradients(batch)
        let analytic = student.parameters.gradients.array
        let values = student.parameters.values

        // In each of these tensors, the element with the largest gradient:
        // both towers' projections, an early vision weight, a text embedding
        // row and the logit scale (which only the task loss reaches).
        let names = ["visual_projection.weight", "text_projection.weight",
                     "vision_model.encoder.layers.0.mlp.fc1.weight", "text_model.embeddings.token_embedding.weight",
                     "text_model.final_layer_norm.weight", "logit_scale"]
        for name in names {
            let spec = try #require(student.parameters.spec(named: name))
            var index = spec.offset
            for i in spec.offset..<(spec.offset + spec.count) where abs(analytic[i]) > abs(analytic[index]) { index = i }
            let original = values[index]
            let h: Float = 1e-2
            values[index] = original + h
            let plus = try Self.totalLoss(step, batch)
            values[index] = original - h
            let minus = try Self.totalLoss(step, batch)
            values[index] = original
            let numeric = (plus - minus) / Double(2 * h)
            let exact = Double(analytic[index])
            #expect(abs(exact) > 1e-4, "\(name): gradient too small to check")
            #expect(abs(numeric - exact) <= 0.03 * abs(exact) + 2e-4,
                    "\(name)[\(index - spec.offset)]: analytic \(exact), finite difference \(numeric)")
        }
    }

    @Test func withoutATeacherTheStepIsCLIPsTrainingStep() throws {
        let a = try TrainingFixture.student(), b = try TrainingFixture.student()
        let adam = try AdamWConfig(beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.1)
        let distill = try DistillationStep(student: a, teacher: nil, terms: [], taskWeight: 1, microShards: 1,
                                           optimizer: adam, maxGradientNorm: 0.5)
        let clip = CLIPTrainingStep(model: b, optimizer: adam, maxGradientNorm: 0.5)
        let source = RandomPairSource()
        let batch = TrainingBatch()
        for s in 0..<3 {
            try source.fill(batch, step: s, batchSize: 8)
            let outcome = try distill.step(batch, stepIndex: s, learningRate: 1e-3)
            let reference = try batch.pixels.withUnsafeBufferPointer { pixels in
                try batch.ids.withUnsafeBufferPointer { ids in
                    try clip.step(pixels: pixels, ids: ids, batch: 8, learningRate: 1e-3)
                }
            }
            #expect(outcome.losses.task == Double(reference.loss))
            #expect(outcome.gradientNorm == reference.gradientNorm)
        }
        #expect(a.parameters.values.array == b.parameters.values.array)
    }

    @Test func refusesTermsWithoutATeacherAndMismatchedWidths() throws {
        let terms = try TrainingFixture.defaultTerms()
        #expect(throws: TrainingError.self) {
            _ = try TrainingFixture.step(student: try TrainingFixture.student(), teacher: nil, terms: terms, microShards: 1)
        }
        var wide = TrainingFixture.teacherConfig()
        wide.projectionDim = 12
        let teacher = FrozenTeacher(model: try CLIPModel(config: wide))
        do {
            _ = try TrainingFixture.step(student: try TrainingFixture.student(), teacher: teacher, terms: terms, microShards: 1)
            Issue.record("a teacher of width 12 was accepted for a student of width 8")
        } catch {
            #expect("\(error)".contains("projection_dim"))
        }
    }

    @Test func refusesABatchThatMicroShardsCannotSplit() throws {
        let step = try TrainingFixture.step(student: try TrainingFixture.student(), teacher: nil, terms: [], microShards: 4)
        let batch = TrainingBatch()
        try RandomPairSource().fill(batch, step: 0, batchSize: 6)
        #expect(throws: TrainingError.self) { _ = try step.computeGradients(batch) }
    }
}
