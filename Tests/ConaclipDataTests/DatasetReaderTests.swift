import Foundation
import Testing
@testable import ConaclipData

/// The committed dataset fixture (Tests/Reference/make_dataset_fixture.py),
/// read in place, plus scratch directories for damaged copies.
enum DatasetFixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/datasets").path

    static func path(_ name: String) -> String { directory + "/" + name }

    struct Expected: Decodable {
        var clean_digest: String
        var keys: [String: String]
        var image_sizes: [String: Int]
    }

    static func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: path("expected.json"))))
    }

    /// A fresh empty directory, removed by the caller.
    static func scratchDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("conaclip-datasets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    static func open(_ name: String, _ options: DatasetOptions = DatasetOptions()) throws(DatasetError) -> OpenedDataset {
        try DatasetReader.open(path: path(name), options: options)
    }

    /// The `DatasetError` `body` throws, or nil (any other error is recorded as an issue).
    static func error<T>(_ body: () throws -> T) -> DatasetError? {
        do {
            _ = try body()
            return nil
        } catch let error as DatasetError {
            return error
        } catch {
            Issue.record("expected a DatasetError, got \(error)")
            return nil
        }
    }
}

/// JSONL manifests and what every reader shares: the policy, the report,
/// the split filter, image loading and format detection.
@Suite struct DatasetReaderTests {
    @Test func cleanJSONLReadsEveryFieldAndResolvesPathsAgainstTheManifest() throws {
        let dataset = try DatasetFixture.open("clean.jsonl")
        #expect(dataset.format == .jsonl)
        #expect(dataset.records.map(\.id) == ["red", "green", "blue", "gray"])
        #expect(dataset.records.map(\.split) == ["train", "train", "val", "test"])
        #expect(dataset.records[0].caption == "a red square")
        #expect(dataset.records[0].image == .file(path: DatasetFixture.path("images/red.png")))
        #expect(dataset.records[0].location == DatasetFixture.path("clean.jsonl") + ":1")
        #expect(dataset.records[1].sameImageAs == ["gray"])
        #expect(try dataset.extras(at: 0) == ["caption_zh": "红色方块", "keywords": #"["red","square"]"#])
        #expect(try dataset.extras(at: 2) == [:])
        #expect(dataset.report.skippedCount == 0)
        #expect(dataset.report.summary == nil)
    }

    @Test func stopPolicyThrowsTheFirstBadLineWithItsLocation() {
        let error = DatasetFixture.error { try DatasetFixture.open("manifest.jsonl") }
        guard case let .invalidJSON(location, _)? = error else {
            Issue.record("expected invalid JSON, got \(String(describing: error))")
            return
        }
        #expect(location == DatasetFixture.path("manifest.jsonl") + ":4")
        #expect(error?.description.hasPrefix(DatasetFixture.path("manifest.jsonl") + ":4: not a JSON object") == true)
    }

    @Test func skipPolicyCountsEachBadLineAndKeepsTheRest() throws {
        let dataset = try DatasetFixture.open("manifest.jsonl", DatasetOptions(onBadRecord: .skip))
        // The broken image is only found at decode time, so it is still a record here.
        #expect(dataset.records.map(\.id) == ["red", "green", "broken", "blue", "gray"])
        #expect(dataset.records.map(\.location).map { $0.split(separator: ":").last.map(String.init) }
                == ["1", "2", "8", "9", "10"])
        let report = dataset.report
        #expect(report.skippedCount == 4)
        let manifest = DatasetFixture.path("manifest.jsonl")
        #expect(report.firstSkipped.map(\.location) == ["\(manifest):4", "\(manifest):5", "\(manifest):6", "\(manifest):7"])
        #expect(report.firstSkipped[1].reason.contains("images/missing.png"))
        #expect(report.firstSkipped[2].reason == "empty caption")
        #expect(report.firstSkipped[3].reason == "missing key \"caption\"")
        #expect(report.summary?.hasPrefix("skipped 4 bad records (first: \(manifest):4: not a JSON object") == true)
    }

    @Test func brokenImageBytesAreFoundAtDecodeTimeUnderEitherPolicy() throws {
        let dataset = try DatasetFixture.open("manifest.jsonl", DatasetOptions(onBadRecord: .skip))
        let broken = try #require(dataset.records.first { $0.id == "broken" })
        // Plain loading always throws, naming the manifest line and the file.
        let error = DatasetFixture.error { try dataset.loadImage(broken) }
        guard case let .brokenImage(location, reason)? = error else {
            Issue.record("expected a broken image, got \(String(describing: error))")
            return
        }
        #expect(location == DatasetFixture.path("manifest.jsonl") + ":8")
        #expect(reason.contains("images/broken.png"))
        // Under skip: nil and one more count in the caller's report.
        var report = dataset.report
        #expect(try dataset.loadImage(broken, report: &report) == nil)
        #expect(report.skippedCount == dataset.report.skippedCount + 1)
        // Under stop the same call throws.
        var other = BadRecordReport()
        #expect(throws: DatasetError.self) {
            try PairImageLoader.load(broken, policy: .stop, report: &other)
        }
        #expect(other.skippedCount == 0)
    }

    @Test func verifyImagesAppliesThePolicyToBrokenBytesAtOpenTime() throws {
        let options = DatasetOptions(onBadRecord: .skip, verifyImages: true)
        let dataset = try DatasetFixture.open("manifest.jsonl", options)
        #expect(dataset.records.map(\.id) == ["red", "green", "blue", "gray"])
        #expect(dataset.report.skippedCount == 5)
        #expect(dataset.report.firstSkipped.last?.location == DatasetFixture.path("manifest.jsonl") + ":8")
        // With stop, the first bad line still wins (it comes before the decode pass).
        let stopped = DatasetFixture.error {
            try DatasetFixture.open("clean.jsonl", DatasetOptions(verifyImages: true))
        }
        #expect(stopped == nil)
    }

    @Test func decodedPixelsMatchTheFixtureImages() throws {
        let dataset = try DatasetFixture.open("clean.jsonl")
        let red = try dataset.loadImage(at: 0)
        #expect(red.width == 4 && red.height == 3)
        #expect(red.pixels == Array([[UInt8]](repeating: [255, 0, 0], count: 12).joined()))
        let gray = try dataset.loadImage(at: 3)
        #expect(gray.pixels == [UInt8](repeating: 128, count: 12))
        let blue = try dataset.loadImage(at: 2)  // JPEG: close to pure blue
        #expect(blue.width == 8 && blue.height == 8)
        #expect(blue[3, 3].red < 8 && blue[3, 3].green < 8 && blue[3, 3].blue > 247)
    }

    @Test func sizeLimitAndSkippedFileChecksApplyAtDecodeTime() throws {
        let limited = try DatasetFixture.open("clean.jsonl", DatasetOptions(maxImageDimension: 3))
        let error = DatasetFixture.error { try limited.loadImage(limited.records[0]) }  // red is 4x3
        #expect(error?.reason.contains("above the limit of 3") == true)
        #expect(try limited.loadImage(at: 3).width == 2)
        // Without the open-time stat, a missing file surfaces when it is loaded.
        let unchecked = try DatasetFixture.open("manifest.jsonl", DatasetOptions(onBadRecord: .skip, checkImageFiles: false))
        let missing = try #require(unchecked.records.first { $0.id == "missing" })
        #expect(DatasetFixture.error { try unchecked.loadImage(missing) }
                == .missingImage(location: missing.location, path: DatasetFixture.path("images/missing.png")))
    }

    @Test func splitFilterKeepsOneSplitAndRefusesManifestsWithoutSplits() throws {
        let val = try DatasetFixture.open("clean.jsonl", DatasetOptions(split: "val"))
        #expect(val.records.map(\.id) == ["blue"])
        // A bad line in another split is not counted: the split is checked first.
        let train = try DatasetFixture.open("manifest.jsonl", DatasetOptions(split: "test", onBadRecord: .skip))
        #expect(train.records.map(\.id) == ["gray"])
        #expect(train.report.skippedCount == 1)  // only the unparseable line, whose split is unknown
        let noSplits = DatasetFixture.error {
            try DatasetReader.open(path: DatasetFixture.path("shards"), options: DatasetOptions(split: "train"))
        }
        guard case .noSplitInformation? = noSplits else {
            Issue.record("expected noSplitInformation, got \(String(describing: noSplits))")
            return
        }
        let missing = DatasetFixture.error { try DatasetFixture.open("clean.jsonl", DatasetOptions(split: "holdout")) }
        guard case .empty? = missing else {
            Issue.record("expected an empty-split error, got \(String(describing: missing))")
            return
        }
    }

    @Test func duplicateIdsAreBadRecords() throws {
        let directory = try DatasetFixture.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let manifest = directory + "/dup.jsonl"
        let image = DatasetFixture.path("images/red.png")
        let lines = [
            #"{"id": 7, "image": "\#(image)", "caption": "first"}"#,
            #"{"id": "7", "image": "\#(image)", "caption": "second"}"#,
            #"{"image": "\#(image)", "caption": "third"}"#,
        ]
        try (lines.joined(separator: "\n") + "\n").write(toFile: manifest, atomically: true, encoding: .utf8)
        let error = DatasetFixture.error { try DatasetReader.open(path: manifest) }
        #expect(error == .duplicateId(location: manifest + ":2", id: "7", firstLocation: manifest + ":1"))
        let skipped = try DatasetReader.open(path: manifest, options: DatasetOptions(onBadRecord: .skip))
        #expect(skipped.records.map(\.id) == ["7", "3"])  // absent id: the line number
    }

    @Test func extrasKeepOtherValuesAsCompactJSONAndFollowTheirRecords() throws {
        let directory = try DatasetFixture.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let manifest = directory + "/extras.jsonl"
        let image = DatasetFixture.path("images/red.png")
        let lines = [
            #"{"image": "\#(image)", "caption": "plain"}"#,
            #"{"image": "\#(image)", "caption": "rich", "n": 3, "x": 1.5, "t": true, "f": false, "z": null,"#
                + #" "o": {"b": [1, "two"], "a": "q\"uote"}, "s": "text"}"#,
        ]
        try lines.joined(separator: "\n").write(toFile: manifest, atomically: true, encoding: .utf8)
        let dataset = try DatasetReader.open(path: manifest)
        #expect(try dataset.extras(at: 0) == [:])
        #expect(try dataset.extras(at: 1) == [
            "n": "3", "x": "1.5", "t": "true", "f": "false", "z": "null",
            "o": #"{"a":"q\"uote","b":[1,"two"]}"#, "s": "text",
        ])
        // After skipping bad lines, extras still belong to the right records.
        let skipped = try DatasetFixture.open("manifest.jsonl", DatasetOptions(onBadRecord: .skip))
        #expect(try skipped.extras(at: 0)["caption_zh"] == "红色方块")
        #expect(try (1..<skipped.count).allSatisfy { try skipped.extras(at: $0)["caption_zh"] == nil })
    }

    @Test func wrongValueTypesAreNamed() throws {
        let directory = try DatasetFixture.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let manifest = directory + "/types.jsonl"
        let lines = [
            #"{"image": 5, "caption": "x"}"#,
            #"{"image": "a.png", "caption": ["x"]}"#,
            #"{"image": "a.png", "caption": "x", "same_image_as": "b"}"#,
            #"["image", "caption"]"#,
        ]
        try lines.joined(separator: "\n").write(toFile: manifest, atomically: true, encoding: .utf8)
        let dataset = DatasetFixture.error {
            try DatasetReader.open(path: manifest, options: DatasetOptions(onBadRecord: .skip))
        }
        // Every line is bad, so nothing is left.
        guard case let .empty(_, reason)? = dataset else {
            Issue.record("expected empty, got \(String(describing: dataset))")
            return
        }
        #expect(reason.contains("skipped 4 bad records"))
        let first = DatasetFixture.error { try DatasetReader.open(path: manifest) }
        #expect(first == .wrongType(location: manifest + ":1", key: "image", expected: "a string"))
    }

    @Test func formatIsDetectedFromThePath() throws {
        #expect(try DatasetFormat.detect(path: DatasetFixture.path("clean.jsonl")) == .jsonl)
        #expect(try DatasetFormat.detect(path: DatasetFixture.path("manifest.csv")) == .csv)
        #expect(try DatasetFormat.detect(path: DatasetFixture.path("manifest.tsv")) == .tsv)
        #expect(try DatasetFormat.detect(path: DatasetFixture.path("pairs-base64.tsv")) == .base64TSV)
        #expect(try DatasetFormat.detect(path: DatasetFixture.path("bad.tar")) == .tar)
        #expect(try DatasetFormat.detect(path: DatasetFixture.path("shards")) == .tar)
        #expect(try DatasetFormat.detect(path: DatasetFixture.path("shards/shard-{000..001}.tar")) == .tar)
        let unknown = DatasetFixture.error { try DatasetFormat.detect(path: DatasetFixture.path("expected.json")) }
        guard case .unsupportedFormat? = unknown else {
            Issue.record("expected unsupportedFormat, got \(String(describing: unknown))")
            return
        }
    }

    @Test func wholeDatasetProblemsStopEvenUnderSkip() {
        let missing = DatasetFixture.error {
            try DatasetFixture.open("nowhere.jsonl", DatasetOptions(onBadRecord: .skip))
        }
        guard case let .unreadable(path, _)? = missing else {
            Issue.record("expected unreadable, got \(String(describing: missing))")
            return
        }
        #expect(path == DatasetFixture.path("nowhere.jsonl"))
        #expect(missing?.isRecordLevel == false)
    }

    @Test func badRecordPolicyParsesConfigValues() throws {
        #expect(try BadRecordPolicy(configValue: "skip") == .skip)
        #expect(try BadRecordPolicy(configValue: "stop") == .stop)
        #expect(try BadRecordPolicy(configValue: "fail") == .stop)
        #expect(throws: DatasetError.invalidOption(name: "on_bad_record", reason: "must be \"stop\" or \"skip\", got \"ignore\"")) {
            try BadRecordPolicy(configValue: "ignore")
        }
    }

    @Test func reportKeepsOnlyTheFirstLocationsButCountsAll() {
        var report = BadRecordReport()
        for line in 1...8 { report.add(.emptyCaption(location: "m.jsonl:\(line)")) }
        #expect(report.skippedCount == 8)
        #expect(report.firstSkipped.count == BadRecordReport.keptLocations)
        #expect(report.summary == "skipped 8 bad records (first: m.jsonl:1: empty caption)")
        var later = BadRecordReport()
        later.add(.brokenImage(location: "m.jsonl:9", reason: "corrupt"))
        var single = BadRecordReport()
        single.merge(later)
        #expect(single.summary == "skipped 1 bad record (first: m.jsonl:9: corrupt)")
        report.merge(later)
        #expect(report.skippedCount == 9 && report.firstSkipped.count == BadRecordReport.keptLocations)
    }
}
