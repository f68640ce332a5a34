/// Reads and decodes the image of a `PairRecord`, from a file, a byte range
/// of a tar shard, or bytes in memory. Errors are `DatasetError.brokenImage`
/// (or `.missingImage`) and name the record's location.
public enum PairImageLoader {
    /// The encoded image bytes of `record`.
    public static func bytes(of record: PairRecord) throws(DatasetError) -> [UInt8] {
        switch record.image {
        case let .bytes(bytes):
            return bytes
        case let .file(path):
            do {
                return try ImageCodec.readFile(path)
            } catch {
                if !DatasetFiles.isRegularFile(path) { throw .missingImage(location: record.location, path: path) }
                throw .brokenImage(location: record.location, reason: error.description)
            }
        case let .fileRange(path, offset, length):
            let file: OpenFile
            do {
                file = try OpenFile(path: path)
            } catch {
                throw .brokenImage(location: record.location, reason: error.description)
            }
            defer { file.close() }
            let data: [UInt8]?
            do {
                data = try file.bytes(at: offset, count: length)
            } catch {
                throw .brokenImage(location: record.location, reason: error.description)
            }
            guard let data else {
                throw .brokenImage(location: record.location,
                                   reason: "\(path) ends before the \(length) image bytes at offset \(offset)")
            }
            return data
        }
    }

    /// Decodes `record`'s image (PNG or JPEG, transparency composited on white).
    public static func load(_ record: PairRecord,
                            maxDimension: Int = ImageCodec.defaultMaxDimension) throws(DatasetError) -> RGBImage {
        let data = try bytes(of: record)
        do throws(ImageCodecError) {
            return try ImageCodec.decode(data, maxDimension: maxDimension)
        } catch {
            var attributed = error
            if case let .file(path) = record.image { attributed = error.from(source: path) }
            throw .brokenImage(location: record.location, reason: attributed.description)
        }
    }

    /// Decodes `record`'s image under `policy`: under `skip`, a broken or
    /// missing image is counted in `report` and nil is returned, so the caller
    /// leaves the pair out; under `stop` the error is thrown.
    public static func load(_ record: PairRecord, policy: BadRecordPolicy, report: inout BadRecordReport,
                            maxDimension: Int = ImageCodec.defaultMaxDimension) throws(DatasetError) -> RGBImage? {
        do {
            return try load(record, maxDimension: maxDimension)
        } catch {
            try report.handle(error, policy: policy)
            return nil
        }
    }
}

extension PairDataset {
    /// Decodes the image of `record` (which came from this dataset); errors name its location.
    public func loadImage(_ record: PairRecord) throws(DatasetError) -> RGBImage {
        try PairImageLoader.load(record)
    }
}
