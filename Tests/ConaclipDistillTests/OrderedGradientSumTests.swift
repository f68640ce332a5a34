import Testing
@testable import ConaclipDistill

/// The shard-order reduction shared by the single-process step and the
/// coordinator, and shard-local negatives.
@Suite struct OrderedGradientSumTests {
    static func shard(_ index: Int, count: Int) -> [Float] {
        var random = DeterministicRandom(seed: 9, stream: "shard-\(index)")
        return (0..<count).map { _ in Float(random.nextNormal()) * 1e3 }
    }

    @Test func anyArrivalOrderGivesTheInOrderSumBitForBit() {
        let count = 1000, shards = 5
        let inputs = (0..<shards).map { Self.shard($0, count: count) }
        var expected = inputs[0]
        for s in 1..<shards { for i in 0..<count { expected[i] += inputs[s][i] } }
        let sum = OrderedGradientSum(count: count, shards: shards)
        for order in [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 1, 3]] {
            sum.reset()
            for s in order {
                #expect(!sum.isComplete)
                inputs[s].withUnsafeBufferPointer { sum.add(shard: s, $0.baseAddress.unsafelyUnwrapped) }
                #expect(sum.contains(s))
            }
            #expect(sum.isComplete)
            let result = Array(UnsafeBufferPointer(start: sum.result, count: count))
            #expect(result.map(\.bitPattern) == expected.map(\.bitPattern), "order \(order)")
        }
        // Another order of additions rounds differently: the fixed order matters.
        var reversed = inputs[shards - 1]
        for s in (0..<(shards - 1)).reversed() { for i in 0..<count { reversed[i] += inputs[s][i] } }
        #expect(reversed.map(\.bitPattern) != expected.map(\.bitPattern))
    }

    @Test func shardLocalNegativesAreTheGlobalLossForOneShardAndDeterministic() throws {
        let source = RandomPairSource()
        let batch = TrainingBatch()
        try source.fill(batch, step: 0, batchSize: 8)
        func gradient(microShards: Int, local: Bool) throws -> (StepLosses, [UInt32]) {
            let student = try TrainingFixture.student()
            let step = try DistillationStep(student: student, teacher: try TrainingFixture.teacher(), terms: try TrainingFixture.defaultTerms(),
                                            taskWeight: 1, microShards: microShards,
                                            optimizer: AdamWConfig(beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.1),
                                            maxGradientNorm: 1, shardLocalNegatives: local)
            let losses = try step.computeGradients(batch)
            return (losses, Array(student.parameters.gradients.buffer).map(\.bitPattern))
        }
        let global = try gradient(microShards: 1, local: false), oneLocal = try gradient(microShards: 1, local: true)
        #expect(global.1 == oneLocal.1 && global.0 == oneLocal.0)
        let local = try gradient(microShards: 2, local: true), again = try gradient(microShards: 2, local: true)
        #expect(local.1 == again.1)
        #expect(local.1 != global.1)
        #expect(local.0.total.isFinite && local.0.total != global.0.total)
    }

    @Test func combiningShardLossesAveragesValuesAndSumsLogitGradientsInOrder() {
        let a = StepLosses(task: 1, terms: [2, 4], total: 3, logitScale: 10, logitScaleGradient: 0.5)
        let b = StepLosses(task: 3, terms: [4, 8], total: 5, logitScale: 10, logitScaleGradient: 0.25)
        let combined = ShardLocalNegatives.combine([a, b])
        #expect(combined.task == 2 && combined.terms == [3, 6] && combined.total == 4)
        #expect(combined.logitScaleGradient == 0.75 && combined.logitScale == 10)
        #expect(ShardLocalNegatives.gradientScale(shards: 4) == 0.25)
    }
}
