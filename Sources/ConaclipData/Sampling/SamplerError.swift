/// Why a `DeterministicSampler` cannot be built from a configuration.
public enum SamplerError: Error, Equatable, CustomStringConvertible {
    /// A size is not positive.
    case invalidValue(key: String, value: Int)
    /// `batch_size` is not a multiple of `micro_shards`.
    case indivisibleBatch(batchSize: Int, microShards: Int)
    /// The dataset holds fewer records than one batch.
    case datasetTooSmall(records: Int, batchSize: Int)

    public var description: String {
        switch self {
        case let .invalidValue(key, value):
            return "\(key) must be positive, got \(value)"
        case let .indivisibleBatch(batchSize, microShards):
            return "batch_size \(batchSize) is not divisible by micro_shards \(microShards); "
                + "choose a micro_shards that divides it (every micro-shard must hold the same number of pairs)"
        case let .datasetTooSmall(records, batchSize):
            return "the dataset has \(records) records, fewer than one batch of \(batchSize); "
                + "lower batch_size or add data (the last partial batch of an epoch is dropped)"
        }
    }
}
