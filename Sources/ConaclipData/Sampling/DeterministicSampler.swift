import Foundation

/// The order in which training visits a dataset, as a pure function of
/// (seed, epoch, step): any process computes the same indices for the same
/// arguments without talking to anyone, which is what lets a coordinator
/// hand out micro-shards by number and lets a resumed run continue exactly.
///
/// - Each epoch is a permutation of `0..<recordCount`, made by Fisher-Yates
///   (from the last position down, swapping with `nextIndex(below: i + 1)`)
///   driven by `DeterministicRandom(seed: seed, stream: "epoch-\(epoch)")`.
/// - `drop_last`: an epoch has `recordCount / batchSize` steps; the
///   `recordCount % batchSize` records at the end of that epoch's
///   permutation are not visited in that epoch (a different random tail each
///   epoch, so every record is still seen over several epochs). Every global
///   batch therefore holds exactly `batchSize` pairs and every micro-shard
///   `batchSize / microShards`, which keeps the loss normalisation and the
///   micro-shard layout fixed from step to step.
/// - Step `s` (global, counted from 0 across epochs) is epoch
///   `s / stepsPerEpoch`; its batch is positions
///   `(s % stepsPerEpoch) * batchSize ..< + batchSize` of that epoch's
///   permutation; micro-shard `k` is the `k`-th contiguous slice of
///   `microShardSize` of the batch, so the micro-shards in order partition it.
///
/// The last epoch's permutation is cached (thread-safe), so consecutive
/// steps cost a slice copy, not a shuffle.
public struct DeterministicSampler: Sendable {
    public let recordCount: Int
    /// Pairs per global batch.
    public let batchSize: Int
    /// Fixed number of micro-shards a batch is cut into (config `micro_shards`).
    public let microShards: Int
    public let seed: UInt64
    private let cache = PermutationCache()

    /// Fails when a size is not positive, `batchSize` is not divisible by
    /// `microShards`, or the dataset is smaller than one batch.
    public init(recordCount: Int, batchSize: Int, microShards: Int = 1, seed: UInt64) throws(SamplerError) {
        guard batchSize >= 1 else { throw .invalidValue(key: "batch_size", value: batchSize) }
        guard microShards >= 1 else { throw .invalidValue(key: "micro_shards", value: microShards) }
        guard batchSize % microShards == 0 else {
            throw .indivisibleBatch(batchSize: batchSize, microShards: microShards)
        }
        guard recordCount >= batchSize else { throw .datasetTooSmall(records: recordCount, batchSize: batchSize) }
        self.recordCount = recordCount
        self.batchSize = batchSize
        self.microShards = microShards
        self.seed = seed
    }

    /// Pairs per micro-shard.
    public var microShardSize: Int { batchSize / microShards }

    /// Full batches per epoch (the last partial batch is dropped).
    public var stepsPerEpoch: Int { recordCount / batchSize }

    /// Records not visited in each epoch (the tail of its permutation).
    public var droppedPerEpoch: Int { recordCount % batchSize }

    /// The epoch global step `step` falls in.
    public func epoch(ofStep step: Int) -> Int {
        precondition(step >= 0, "step must be non-negative, got \(step)")
        return step / stepsPerEpoch
    }

    /// The order of epoch `epoch`: a permutation of `0..<recordCount`.
    public func permutation(epoch: Int) -> [Int] {
        precondition(epoch >= 0, "epoch must be non-negative, got \(epoch)")
        if let cached = cache.lookup(epoch: epoch) { return cached }
        var order = Array(0..<recordCount)
        var random = DeterministicRandom(seed: seed, stream: "epoch-\(epoch)")
        var i = recordCount - 1
        while i > 0 {
            let j = random.nextIndex(below: i + 1)
            order.swapAt(i, j)
            i -= 1
        }
        cache.store(epoch: epoch, order: order)
        return order
    }

    /// The dataset indices of global batch `step`, in order (`batchSize` of them).
    public func batch(step: Int) -> [Int] {
        let epoch = epoch(ofStep: step)
        let start = (step % stepsPerEpoch) * batchSize
        return Array(permutation(epoch: epoch)[start..<(start + batchSize)])
    }

    /// The dataset indices of micro-shard `microShard` of global batch `step`.
    public func indices(step: Int, microShard: Int) -> [Int] {
        precondition(microShard >= 0 && microShard < microShards,
                     "micro-shard \(microShard) outside 0..<\(microShards)")
        let epoch = epoch(ofStep: step)
        let start = (step % stepsPerEpoch) * batchSize + microShard * microShardSize
        return Array(permutation(epoch: epoch)[start..<(start + microShardSize)])
    }

    /// Positions of micro-shard `microShard` inside a batch.
    public func batchPositions(microShard: Int) -> Range<Int> {
        precondition(microShard >= 0 && microShard < microShards,
                     "micro-shard \(microShard) outside 0..<\(microShards)")
        return (microShard * microShardSize)..<((microShard + 1) * microShardSize)
    }
}

/// Holds the most recently computed epoch permutation behind a lock, shared
/// by copies of a sampler (the permutation is a pure function, so sharing
/// never changes an answer).
final class PermutationCache: @unchecked Sendable {
    private let lock = NSLock()
    private var epoch = -1
    private var order: [Int] = []

    func lookup(epoch wanted: Int) -> [Int]? {
        lock.lock()
        defer { lock.unlock() }
        return wanted == epoch ? order : nil
    }

    func store(epoch newEpoch: Int, order newOrder: [Int]) {
        lock.lock()
        defer { lock.unlock() }
        epoch = newEpoch
        order = newOrder
    }
}
