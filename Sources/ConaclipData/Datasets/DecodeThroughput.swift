/// What `DecodeThroughput.measure` found: how fast one core turns a
/// dataset's stored images into model input, next to how fast it merely
/// reads their bytes (the baseline measured in the same run).
public struct DecodeThroughputReport: Sendable, Equatable, Codable {
    /// Images decoded and preprocessed (over all passes; broken ones excluded).
    public var images: Int
    /// Encoded bytes read per pass.
    public var bytesPerPass: Int
    public var passes: Int
    /// Baseline: seconds to read the encoded bytes only, all passes.
    public var readOnlySeconds: Double
    /// Seconds reading bytes in the decode passes.
    public var readSeconds: Double
    /// Seconds decoding PNG/JPEG to RGB.
    public var decodeSeconds: Double
    /// Seconds resizing, cropping and normalising to CHW floats.
    public var preprocessSeconds: Double
    /// Images whose bytes could not be decoded (skipped and counted).
    public var brokenImages: Int
    /// The first broken image, `LOCATION: reason`, if any.
    public var firstBroken: String?

    /// End-to-end images per second: read + decode + preprocess.
    public var imagesPerSecond: Double {
        let total = readSeconds + decodeSeconds + preprocessSeconds
        return total > 0 ? Double(images) / total : 0
    }

    /// Images per second of the read-only baseline.
    public var readOnlyImagesPerSecond: Double {
        readOnlySeconds > 0 ? Double(images + brokenImages) / readOnlySeconds : 0
    }

    /// How many times longer decode + preprocess takes than reading the bytes.
    public var slowdownOverRead: Double {
        let baseline = readOnlyImagesPerSecond
        let achieved = imagesPerSecond
        return achieved > 0 ? baseline / achieved : 0
    }
}

/// Measures decode + preprocess throughput of a dataset on the calling
/// thread (one core), for `conaclip bench data`.
public enum DecodeThroughput {
    /// Reads, decodes and preprocesses the first `limit` records (all when
    /// nil) `passes` times, after one read-only pass per pass as the
    /// baseline. One workspace and one output buffer are reused throughout.
    /// Broken images are counted, not fatal; a missing or unreadable file
    /// still throws, since the numbers would be meaningless.
    public static func measure(_ dataset: some PairDataset, preprocessor: CLIPImagePreprocessor,
                               limit: Int? = nil, passes: Int = 1,
                               maxDimension: Int = ImageCodec.defaultMaxDimension)
        throws(DatasetError) -> DecodeThroughputReport {
        guard passes >= 1 else { throw .invalidOption(name: "passes", reason: "must be positive, got \(passes)") }
        if let limit, limit < 1 { throw .invalidOption(name: "limit", reason: "must be positive, got \(limit)") }
        let count = min(dataset.count, limit ?? dataset.count)
        guard count > 0 else { throw .empty(path: dataset.name, reason: "no records to measure") }
        let records = (0..<count).map { dataset.record(at: $0) }

        var report = DecodeThroughputReport(images: 0, bytesPerPass: 0, passes: passes, readOnlySeconds: 0,
                                            readSeconds: 0, decodeSeconds: 0, preprocessSeconds: 0,
                                            brokenImages: 0, firstBroken: nil)
        var workspace = ResamplingWorkspace()
        var output = [Float](repeating: 0, count: preprocessor.valuesPerImage)
        for pass in 0..<passes {
            var clock = StepClock()
            var bytesRead = 0
            for record in records {
                let bytes = try PairImageLoader.bytes(of: record)
                bytesRead += bytes.count
            }
            report.readOnlySeconds += clock.lap()
            if pass == 0 { report.bytesPerPass = bytesRead }

            for record in records {
                _ = clock.lap()
                let bytes = try PairImageLoader.bytes(of: record)
                report.readSeconds += clock.lap()
                let image: RGBImage
                do throws(ImageCodecError) {
                    image = try ImageCodec.decode(bytes, maxDimension: maxDimension)
                } catch {
                    report.decodeSeconds += clock.lap()
                    report.brokenImages += 1
                    if report.firstBroken == nil { report.firstBroken = "\(record.location): \(error)" }
                    continue
                }
                report.decodeSeconds += clock.lap()
                output.withUnsafeMutableBufferPointer { buffer in
                    preprocessor.preprocess(image, into: buffer, workspace: &workspace)
                }
                report.preprocessSeconds += clock.lap()
                report.images += 1
            }
        }
        return report
    }
}
