import Foundation
import Testing
@testable import ConaclipData

/// A folder of pictures read as a dataset: which files count, their order,
/// ids and captions, and how a folder is told apart from a folder of shards.
@Suite struct DatasetReaderImageFolderTests {
    static func picture(_ path: String, _ value: UInt8) throws {
        try ImageCodec.writeFile(try PNGCodec.encode(RGBImage(width: 4, height: 4, red: value, green: 0, blue: 0)), to: path)
    }

    @Test func readsPicturesRecursivelyInPathOrderSkippingHiddenAndOtherFiles() throws {
        let root = try DatasetFixture.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for folder in ["b-folder", ".hidden", "a_folder"] {
            try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        }
        try Self.picture(root + "/zebra_crossing.PNG", 1)
        try Self.picture(root + "/b-folder/red-heart.png", 2)
        try Self.picture(root + "/a_folder/x.jpg.png", 3)
        try Self.picture(root + "/.hidden/secret.png", 4)
        try Self.picture(root + "/.dotfile.png", 5)
        try Data("text".utf8).write(to: URL(fileURLWithPath: root + "/readme.txt"))

        #expect(try DatasetFormat.detect(path: root) == .imageFolder)
        let dataset = try DatasetReader.open(path: root)
        #expect(dataset.format == .imageFolder)
        #expect(dataset.records.map(\.id) == ["a_folder/x.jpg.png", "b-folder/red-heart.png", "zebra_crossing.PNG"])
        #expect(dataset.records.map(\.caption) == ["x.jpg", "red heart", "zebra crossing"])
        #expect(dataset.records[1].image == .file(path: root + "/b-folder/red-heart.png"))
        #expect(try dataset.loadImage(at: 1)[0, 0].red == 2)
        // The digest follows the pictures' bytes.
        let before = try dataset.datasetDigest()
        try Self.picture(root + "/b-folder/red-heart.png", 9)
        #expect(try DatasetReader.open(path: root).datasetDigest() != before)
        // A folder has no split information.
        let error = DatasetFixture.error { try DatasetReader.open(path: root, options: DatasetOptions(split: "test")) }
        guard case .noSplitInformation = error else {
            Issue.record("expected noSplitInformation, got \(String(describing: error))")
            return
        }
    }

    @Test func aFolderWithShardsOrWithoutPicturesIsReadAsShards() throws {
        let root = try DatasetFixture.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try DatasetFormat.detect(path: root) == .tar)
        try Self.picture(root + "/cover.png", 1)
        #expect(try DatasetFormat.detect(path: root) == .imageFolder)
        try Data().write(to: URL(fileURLWithPath: root + "/shard-000.tar"))
        #expect(try DatasetFormat.detect(path: root) == .tar)
    }
}
