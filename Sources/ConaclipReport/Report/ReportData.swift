/// The image-text pairs a report evaluates on: a dataset split read from a
/// manifest, or, for runs trained on the built-in synthetic shapes, pairs
/// drawn from the same generator with another seed (held out: the training
/// pictures come from the training seed).
public struct ReportData: Sendable {
    /// What the pairs are, for the report's text.
    public let description: String
    public let records: [PairRecord]
    private let source: Source

    private enum Source: Sendable {
        case dataset(OpenedDataset)
        case synthetic(SyntheticShapes)
    }

    /// The records of `dataset`.
    public init(dataset: OpenedDataset, description: String) {
        self.description = description
        records = dataset.records
        source = .dataset(dataset)
    }

    /// `pairs` synthetic shapes drawn with `seed`.
    public init(syntheticPairs pairs: Int, seed: UInt64) {
        let shapes = SyntheticShapes(pairs: pairs, seed: seed)
        description = "\(pairs) built-in synthetic shape pairs drawn with seed \(seed)"
        records = (0..<shapes.pairs).map { index in
            PairRecord(id: shapes.id(at: index), image: .bytes([]), caption: shapes.caption(at: index),
                       location: "synthetic shapes seed \(seed) #\(index)")
        }
        source = .synthetic(shapes)
    }

    /// The picture of record `index`.
    public func image(at index: Int) throws(DatasetError) -> RGBImage {
        switch source {
        case let .dataset(dataset): return try dataset.loadImage(at: index)
        case let .synthetic(shapes): return shapes.image(at: index)
        }
    }

    /// The picture of `record` (one of `records`) under the dataset's bad-record policy.
    func image(of record: PairRecord, index: Int, report: inout BadRecordReport) throws(DatasetError) -> RGBImage? {
        switch source {
        case let .dataset(dataset): return try dataset.loadImage(record, report: &report)
        case let .synthetic(shapes): return shapes.image(at: index)
        }
    }
}
