import Foundation
import Testing
@testable import ConaclipData

/// The dataset digest the teacher-embedding cache keys on, and the
/// decode-throughput measurement behind `conaclip bench data`.
@Suite struct DatasetReaderDigestTests {
    @Test func digestMatchesTheIndependentPythonComputation() throws {
        let expected = try DatasetFixture.expected().clean_digest
        #expect(try DatasetFixture.open("clean.jsonl").datasetDigest() == expected)
    }

    @Test func digestDependsOnContentNotOnFormatOrPaths() throws {
        let expected = try DatasetFixture.expected().clean_digest
        // The shards hold the same ids, captions and image bytes in the same order.
        #expect(try DatasetReader.open(path: DatasetFixture.path("shards")).datasetDigest() == expected)
        // The base64 TSV holds them too, after a header and two bad rows (skipped) and before a broken one.
        let base64 = try DatasetFixture.open("pairs-base64.tsv", DatasetOptions(onBadRecord: .skip))
        let firstFour = OpenedDataset(name: base64.name, format: base64.format, policy: .skip, split: nil,
                                      records: Array(base64.records.prefix(4)), report: base64.report)
        #expect(try firstFour.datasetDigest() == expected)
    }

    @Test func digestChangesWithACaptionAnImageByteOrTheOrder() throws {
        let directory = try DatasetFixture.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clean = try DatasetFixture.open("clean.jsonl")
        let base = try clean.datasetDigest()
        func digest(_ records: [PairRecord]) throws -> String {
            try OpenedDataset(name: "t", format: .jsonl, policy: .stop, split: nil, records: records,
                              report: BadRecordReport()).datasetDigest()
        }
        var recaptioned = clean.records
        recaptioned[1].caption += "."
        #expect(try digest(recaptioned) != base)
        #expect(try digest(clean.records.reversed()) != base)
        // A copy of red.png with one byte changed (same size, same name elsewhere).
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: DatasetFixture.path("images/red.png"))))
        bytes[bytes.count - 5] ^= 0xFF
        let copy = directory + "/red.png"
        try Data(bytes).write(to: URL(fileURLWithPath: copy))
        var changed = clean.records
        changed[0].image = .file(path: copy)
        #expect(try digest(changed) != base)
        // The identical bytes elsewhere (another path, another mtime) give the same digest.
        try FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: DatasetFixture.path("images/red.png"), toPath: copy)
        #expect(try digest(changed) == base)
        // A missing file is an error naming the record.
        changed[0].image = .file(path: directory + "/gone.png")
        #expect(throws: DatasetError.missingImage(location: clean.records[0].location, path: directory + "/gone.png")) {
            try digest(changed)
        }
    }

    @Test func throughputCountsEveryImageAndBrokenOnesSeparately() throws {
        let dataset = try DatasetFixture.open("manifest.jsonl", DatasetOptions(onBadRecord: .skip))
        let preprocessor = try CLIPImagePreprocessor(size: 8, cropSize: 8)
        let report = try DecodeThroughput.measure(dataset, preprocessor: preprocessor, passes: 2)
        #expect(report.images == 8)  // four good images, twice
        #expect(report.brokenImages == 2)
        #expect(report.firstBroken?.hasPrefix(DatasetFixture.path("manifest.jsonl") + ":8") == true)
        let sizes = try DatasetFixture.expected().image_sizes
        let brokenSize = try FileManager.default.attributesOfItem(atPath: DatasetFixture.path("images/broken.png"))[.size] as? Int
        #expect(report.bytesPerPass == sizes.values.reduce(0, +) + (brokenSize ?? -1))
        #expect(report.imagesPerSecond > 0 && report.readOnlyImagesPerSecond > 0)
        let limited = try DecodeThroughput.measure(dataset, preprocessor: preprocessor, limit: 2)
        #expect(limited.images == 2 && limited.brokenImages == 0)
        #expect(throws: DatasetError.self) { try DecodeThroughput.measure(dataset, preprocessor: preprocessor, passes: 0) }
    }
}
