import Foundation
import Testing
@testable import ConaclipData

/// WebDataset tar shards: the ustar parser, shard lists, incomplete samples,
/// damaged and truncated shards.
@Suite struct DatasetReaderTarTests {
    @Test func shardDirectoryReadsSamplesInShardOrderAsByteRanges() throws {
        let dataset = try DatasetReader.open(path: DatasetFixture.path("shards"))
        #expect(dataset.format == .tar)
        #expect(dataset.records.map(\.id) == ["red", "green", "blue", "gray"])
        #expect(dataset.records.map(\.caption) == ["a red square", "a green square", "a blue tile", "a gray square"])
        let shard0 = DatasetFixture.path("shards/shard-000.tar")
        #expect(dataset.records[0].location == shard0 + ":red.png")
        let sizes = try DatasetFixture.expected().image_sizes
        guard case let .fileRange(path, offset, length) = dataset.records[2].image else {
            Issue.record("tar images must be file ranges")
            return
        }
        #expect(path == DatasetFixture.path("shards/shard-001.tar"))
        #expect(offset % 512 == 0 && length == sizes["blue.jpg"])
        // The member bytes are exactly the image file's bytes.
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        try file.seek(toOffset: UInt64(offset))
        let member = try file.read(upToCount: length)
        try file.close()
        #expect(member == (try Data(contentsOf: URL(fileURLWithPath: DatasetFixture.path("images/blue.jpg")))))
        let green = try dataset.loadImage(at: 1)
        #expect(green.width == 3 && green.height == 4 && green[1, 2].green == 255 && green[1, 2].red == 0)
    }

    @Test func shardListsExpandBracesGlobsAndLists() throws {
        let a = DatasetFixture.path("shards/shard-000.tar"), b = DatasetFixture.path("shards/shard-001.tar")
        #expect(try ShardList.expand(DatasetFixture.path("shards/shard-{000..001}.tar")) == [a, b])
        #expect(try ShardList.expand(DatasetFixture.path("shards/shard-{001,000}.tar")) == [b, a])
        #expect(try ShardList.expand(DatasetFixture.path("shards/*.tar")) == [a, b])
        #expect(try ShardList.expand(b + "::" + a) == [b, a])
        #expect(try ShardList.braceExpand("s-{8..10}-{x,y}", spec: "") == ["s-8-x", "s-8-y", "s-9-x", "s-9-y", "s-10-x", "s-10-y"])
        let missing = DatasetFixture.error { try ShardList.expand(DatasetFixture.path("shards/shard-{000..002}.tar")) }
        guard case let .noShards(_, reason)? = missing else {
            Issue.record("expected noShards, got \(String(describing: missing))")
            return
        }
        #expect(reason.contains("shard-002.tar"))
        #expect(DatasetFixture.error { try ShardList.expand(DatasetFixture.path("shards/none-*.tar")) } != nil)
        #expect(DatasetFixture.error { try ShardList.expand(DatasetFixture.path("shards/shard-{000..001.tar")) } != nil)
    }

    @Test func incompleteSamplesAreBadRecordsAndBrokenBytesFailAtDecode() throws {
        let bad = DatasetFixture.path("bad.tar")
        let stopped = DatasetFixture.error { try DatasetReader.open(path: bad) }
        guard case let .incompleteSample(location, reason)? = stopped else {
            Issue.record("expected an incomplete sample, got \(String(describing: stopped))")
            return
        }
        #expect(location == bad + ":nocaption")
        #expect(reason.contains("no .txt caption"))

        let dataset = try DatasetReader.open(path: bad, options: DatasetOptions(onBadRecord: .skip))
        #expect(dataset.records.map(\.id) == ["ok", "broken"])
        #expect(dataset.report.firstSkipped.map(\.location) == ["nocaption", "noimage", "twoimages"].map { bad + ":" + $0 })
        #expect(dataset.report.firstSkipped[1].reason.contains("no .jpg, .jpeg or .png image"))
        #expect(dataset.report.firstSkipped[2].reason.contains("2 images"))
        let error = DatasetFixture.error { try dataset.loadImage(at: 1) }
        #expect(error?.location == bad + ":broken.png")
        var report = dataset.report
        #expect(try dataset.loadImage(dataset.records[1], report: &report) == nil)
        #expect(report.skippedCount == 4)
        #expect(try dataset.loadImage(at: 0).width == 4)
    }

    @Test func longNamesFromGNUPaxAndUstarPrefixesAreRead() throws {
        let keys = try DatasetFixture.expected().keys
        for format in ["gnu", "pax", "ustar"] {
            let shard = DatasetFixture.path("names/\(format).tar")
            let listing = try TarArchive.list(path: shard)
            let key = try #require(keys[format])
            #expect(listing.problem == nil)
            #expect(listing.members.map(\.name) == [key + ".png", key + ".txt"], "\(format)")
            let dataset = try DatasetReader.open(path: shard)
            #expect(dataset.records.map(\.id) == [key])
            #expect(try dataset.loadImage(at: 0).pixels.prefix(3) == [255, 0, 0])
        }
    }

    @Test func truncatedShardsKeepCompleteSamplesUnderSkipAndStopUnderStop() throws {
        let directory = try DatasetFixture.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let whole = try Data(contentsOf: URL(fileURLWithPath: DatasetFixture.path("shards/shard-000.tar")))
        let listing = try TarArchive.list(path: DatasetFixture.path("shards/shard-000.tar"))
        #expect(listing.members.map(\.name) == ["red.png", "red.txt", "red.json", "green.png", "green.txt", "green.json"])
        let greenImage = listing.members[3]

        // Cut inside green.png's data: the header promises more than the file holds.
        let cutData = directory + "/cut-data.tar"
        try whole.prefix(greenImage.dataOffset + 10).write(to: URL(fileURLWithPath: cutData))
        let stopped = DatasetFixture.error { try DatasetReader.open(path: cutData) }
        guard case let .corruptShard(location, reason)? = stopped else {
            Issue.record("expected a corrupt shard, got \(String(describing: stopped))")
            return
        }
        #expect(location == cutData + ":green.png")
        #expect(reason.contains("truncated") && reason.contains("declares \(greenImage.size) bytes"))
        let skipped = try DatasetReader.open(path: cutData, options: DatasetOptions(onBadRecord: .skip))
        #expect(skipped.records.map(\.id) == ["red"])
        #expect(skipped.report.skippedCount == 1)
        #expect(skipped.report.firstSkipped.first?.location == cutData + ":green.png")

        // Cut inside the header that follows red.json.
        let cutHeader = directory + "/cut-header.tar"
        try whole.prefix(greenImage.dataOffset - 512 + 100).write(to: URL(fileURLWithPath: cutHeader))
        let headerListing = try TarArchive.list(path: cutHeader)
        #expect(headerListing.members.count == 3)
        #expect(headerListing.problem?.reason.contains("ends inside a tar header") == true)

        // Cut exactly after a member and its padding, without end-of-archive blocks: complete.
        let cutClean = directory + "/cut-clean.tar"
        try whole.prefix(greenImage.dataOffset - 512).write(to: URL(fileURLWithPath: cutClean))
        let clean = try DatasetReader.open(path: cutClean)
        #expect(clean.records.map(\.id) == ["red"] && clean.report.skippedCount == 0)
    }

    @Test func damagedHeadersAndSizesAreRefusedWithoutCrashing() throws {
        let directory = try DatasetFixture.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let whole = [UInt8](try Data(contentsOf: URL(fileURLWithPath: DatasetFixture.path("shards/shard-000.tar"))))

        var flipped = whole
        flipped[3] ^= 0x01  // a name byte of the first header: checksum no longer matches
        let badChecksum = directory + "/checksum.tar"
        try Data(flipped).write(to: URL(fileURLWithPath: badChecksum))
        let listing = try TarArchive.list(path: badChecksum)
        #expect(listing.members.isEmpty)
        #expect(listing.problem?.reason.contains("checksum") == true)
        #expect(DatasetFixture.error { try DatasetReader.open(path: badChecksum, options: DatasetOptions(onBadRecord: .skip)) }
                .map { if case .empty = $0 { return true } else { return false } } == true)

        let notTar = directory + "/text.tar"
        try Data(repeating: 0x41, count: 2000).write(to: URL(fileURLWithPath: notTar))
        #expect(try TarArchive.list(path: notTar).problem != nil)

        let tiny = directory + "/tiny.tar"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: tiny))
        #expect(try TarArchive.list(path: tiny).problem?.reason.contains("ends inside a tar header") == true)
    }

    @Test func numericFieldsParseOctalAndBase256() {
        #expect(TarArchive.parseNumber(Array("00000001750\0".utf8)[...]) == 1000)
        #expect(TarArchive.parseNumber(Array("   1750 \0".utf8)[...]) == 1000)
        #expect(TarArchive.parseNumber([0, 0, 0, 0][...]) == 0)
        #expect(TarArchive.parseNumber([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00][...]) == 256)
        #expect(TarArchive.parseNumber([0xFF, 0xFF, 0xFF][...]) == nil)
        #expect(TarArchive.parseNumber(Array("0009\0".utf8)[...]) == nil)
        #expect(TarArchive.parseNumber(Array("7777777777777777777777777\0".utf8)[...]) == nil)
        #expect(TarArchive.parsePax(Array("19 path=some/name.\n".utf8)) == ["path": "some/name."])
        #expect(TarArchive.parsePax(Array("99 path=x\n".utf8)) == nil)
    }

    @Test func memberNamesSplitIntoKeyAndExtension() {
        #expect(WebDatasetReader.split("a/b/0001.seg.png").map { [$0.key, $0.fileExtension] } == ["a/b/0001", "seg.png"])
        #expect(WebDatasetReader.split("0001.JPG").map { [$0.key, $0.fileExtension] } == ["0001", "jpg"])
        #expect(WebDatasetReader.split("a.b/c").map { [$0.key, $0.fileExtension] } == nil)
        #expect(WebDatasetReader.split("dir/.hidden.png") == nil)
    }
}
