extension TrainingPairs {
    /// The pairs as records for `ModelEvaluation`: the dataset's own, or one
    /// record per synthetic shape (id `synthetic-INDEX`, no identical
    /// pictures declared), whose image `evaluationImage` draws.
    public var evaluationRecords: [PairRecord] {
        switch self {
        case let .dataset(dataset):
            return dataset.records
        case let .synthetic(shapes):
            return (0..<shapes.pairs).map { index in
                PairRecord(id: "\(Self.syntheticPrefix)\(index)", image: .bytes([]), caption: shapes.caption(at: index),
                           location: "synthetic shapes (seed \(shapes.seed)) #\(index)")
            }
        }
    }

    static let syntheticPrefix = "synthetic-"

    /// Decodes (or draws) the image of one of `evaluationRecords` under the
    /// dataset's bad-record policy (see `OpenedDataset.loadImage(_:report:)`).
    public func evaluationImage(_ record: PairRecord, report: inout BadRecordReport) throws(DatasetError) -> RGBImage? {
        switch self {
        case let .dataset(dataset):
            return try dataset.loadImage(record, report: &report)
        case let .synthetic(shapes):
            guard record.id.hasPrefix(Self.syntheticPrefix),
                  let index = Int(record.id.dropFirst(Self.syntheticPrefix.count)), index >= 0, index < shapes.pairs else {
                throw .brokenImage(location: record.location, reason: "not one of the \(shapes.pairs) synthetic shapes")
            }
            return shapes.image(at: index)
        }
    }
}
