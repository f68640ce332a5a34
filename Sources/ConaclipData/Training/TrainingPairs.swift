/// The image-text pairs a training run reads: a dataset manifest opened by
/// `DatasetReader` (split filter and bad-record policy applied), or the
/// built-in `SyntheticShapes`.
public enum TrainingPairs: Sendable {
    case dataset(OpenedDataset)
    case synthetic(SyntheticShapes)

    /// Opens the data a config names. Under `on_bad_record: skip` every image
    /// is decoded once up front, so broken ones are left out before training
    /// starts and every batch stays full.
    public static func open(_ source: TrainingConfig.DataSource) throws(TrainingError) -> TrainingPairs {
        switch source {
        case let .synthetic(pairs, seed):
            return .synthetic(SyntheticShapes(pairs: pairs, seed: seed))
        case let .manifest(path, split, policy):
            let options = DatasetOptions(split: split, onBadRecord: policy == .skip ? .skip : .stop,
                                         verifyImages: policy == .skip)
            do {
                return .dataset(try DatasetReader.open(path: path, options: options))
            } catch {
                if case .unreadable = error, !DatasetFiles.isRegularFile(path) {
                    throw .data("\(error); build the emoji benchmark with `conaclip data emoji --out DIR` "
                        + "or set data.manifest in the config")
                }
                throw .data(error.description)
            }
        }
    }

    public var count: Int {
        switch self {
        case let .dataset(dataset): return dataset.count
        case let .synthetic(shapes): return shapes.pairs
        }
    }

    /// What the pairs are, for the run's log.
    public var name: String {
        switch self {
        case let .dataset(dataset): return dataset.name
        case let .synthetic(shapes): return "synthetic shapes (seed \(shapes.seed))"
        }
    }

    /// "skipped N bad records (...)" when the dataset skipped any.
    public var skippedSummary: String? {
        if case let .dataset(dataset) = self { return dataset.report.summary }
        return nil
    }

    public func caption(at index: Int) -> String {
        switch self {
        case let .dataset(dataset): return dataset.record(at: index).caption
        case let .synthetic(shapes): return shapes.caption(at: index)
        }
    }

    /// Every caption, in index order (for learning a tokenizer).
    public var captions: [String] { (0..<count).map(caption(at:)) }

    /// The decoded image of pair `index`.
    public func image(at index: Int) throws(TrainingError) -> RGBImage {
        switch self {
        case let .dataset(dataset):
            do { return try dataset.loadImage(at: index) } catch { throw .data(error.description) }
        case let .synthetic(shapes):
            return shapes.image(at: index)
        }
    }
}
