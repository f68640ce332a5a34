import Testing
@testable import ConaclipData

/// The deterministic sampler: order as a pure function of (seed, epoch, step),
/// drop_last, and micro-shards that partition each batch in order.
@Suite struct SamplerTests {
    @Test func sameArgumentsGiveTheSameIndicesInAnyInstance() throws {
        let a = try DeterministicSampler(recordCount: 103, batchSize: 12, microShards: 3, seed: 42)
        let b = try DeterministicSampler(recordCount: 103, batchSize: 12, microShards: 3, seed: 42)
        // Asked in different orders (b starts far ahead), so the cache cannot make them agree by accident.
        let late = (0..<40).reversed().map { b.batch(step: $0) }.reversed()
        #expect((0..<40).map { a.batch(step: $0) } == Array(late))
        #expect(a.indices(step: 17, microShard: 2) == b.indices(step: 17, microShard: 2))
    }

    @Test func seedAndEpochChangeThePermutation() throws {
        let a = try DeterministicSampler(recordCount: 64, batchSize: 8, seed: 1)
        let b = try DeterministicSampler(recordCount: 64, batchSize: 8, seed: 2)
        #expect(a.permutation(epoch: 0) != b.permutation(epoch: 0))
        #expect(a.permutation(epoch: 0) != a.permutation(epoch: 1))
        #expect(a.permutation(epoch: 0) != Array(0..<64))
        // Step 8 is the first batch of epoch 1.
        #expect(a.epoch(ofStep: 7) == 0 && a.epoch(ofStep: 8) == 1)
        #expect(a.batch(step: 8) == Array(a.permutation(epoch: 1)[0..<8]))
    }

    @Test func permutationIsFisherYatesOverTheEpochStream() throws {
        // An independent re-statement of the documented algorithm.
        let sampler = try DeterministicSampler(recordCount: 10, batchSize: 2, seed: 7)
        var random = DeterministicRandom(seed: 7, stream: "epoch-3")
        var order = Array(0..<10)
        for i in stride(from: 9, to: 0, by: -1) { order.swapAt(i, random.nextIndex(below: i + 1)) }
        #expect(sampler.permutation(epoch: 3) == order)
    }

    @Test func everyIndexExactlyOncePerEpochWhenTheBatchDividesTheDataset() throws {
        let sampler = try DeterministicSampler(recordCount: 96, batchSize: 16, microShards: 4, seed: 5)
        #expect(sampler.stepsPerEpoch == 6 && sampler.droppedPerEpoch == 0)
        for epoch in 0..<3 {
            let seen = (0..<6).flatMap { sampler.batch(step: epoch * 6 + $0) }
            #expect(seen.sorted() == Array(0..<96))
        }
    }

    @Test func dropLastLeavesOutTheTailOfEachEpochsPermutation() throws {
        let sampler = try DeterministicSampler(recordCount: 50, batchSize: 16, microShards: 2, seed: 9)
        #expect(sampler.stepsPerEpoch == 3 && sampler.droppedPerEpoch == 2)
        for epoch in 0..<4 {
            let seen = (0..<3).flatMap { sampler.batch(step: epoch * 3 + $0) }
            #expect(Set(seen).count == 48)
            #expect(Set(seen).union(sampler.permutation(epoch: epoch).suffix(2)) == Set(0..<50))
        }
        // Different tails in different epochs, so no record is starved for ever.
        let tails = (0..<8).map { Set(sampler.permutation(epoch: $0).suffix(2)) }
        #expect(Set(tails).count > 1)
    }

    @Test func microShardsPartitionTheBatchInOrder() throws {
        let sampler = try DeterministicSampler(recordCount: 200, batchSize: 24, microShards: 6, seed: 3)
        #expect(sampler.microShardSize == 4)
        for step in [0, 1, 7, 8, 9, 30] {
            let shards = (0..<6).map { sampler.indices(step: step, microShard: $0) }
            #expect(shards.flatMap { $0 } == sampler.batch(step: step))
            #expect(shards.allSatisfy { $0.count == 4 })
        }
        #expect(sampler.batchPositions(microShard: 2) == 8..<12)
    }

    @Test func invalidConfigurationsAreRefusedWithTheirKeys() {
        #expect(throws: SamplerError.indivisibleBatch(batchSize: 10, microShards: 4)) {
            try DeterministicSampler(recordCount: 100, batchSize: 10, microShards: 4, seed: 0)
        }
        #expect(throws: SamplerError.invalidValue(key: "micro_shards", value: 0)) {
            try DeterministicSampler(recordCount: 100, batchSize: 10, microShards: 0, seed: 0)
        }
        #expect(throws: SamplerError.invalidValue(key: "batch_size", value: -1)) {
            try DeterministicSampler(recordCount: 100, batchSize: -1, seed: 0)
        }
        #expect(throws: SamplerError.datasetTooSmall(records: 5, batchSize: 8)) {
            try DeterministicSampler(recordCount: 5, batchSize: 8, seed: 0)
        }
        #expect(SamplerError.indivisibleBatch(batchSize: 10, microShards: 4).description.contains("micro_shards 4"))
    }
}
