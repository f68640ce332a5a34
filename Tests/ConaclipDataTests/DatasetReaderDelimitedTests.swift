import Foundation
import Testing
@testable import ConaclipData

/// CSV and TSV manifests (OpenCLIP columns) and EasyNLP's base64 TSV.
@Suite struct DatasetReaderDelimitedTests {
    @Test(arguments: ["manifest.csv", "manifest.tsv"])
    func skipKeepsGoodRowsWithQuotedFieldsAndCountsBadOnes(_ name: String) throws {
        let dataset = try DatasetFixture.open(name, DatasetOptions(onBadRecord: .skip))
        let file = DatasetFixture.path(name)
        #expect(dataset.format == (name.hasSuffix(".csv") ? .csv : .tsv))
        #expect(dataset.records.map(\.id) == ["red", "green", "blue", "gray", "broken"])
        #expect(dataset.records.map(\.caption)
                == ["a red square, bright", "a \"green\" square", "a blue tile\nover two lines", "a gray square",
                    "a broken picture"])
        #expect(dataset.records.map(\.split) == ["train", "train", "val", "test", "train"])
        // A row's location is the line it starts on; the quoted line break moves later rows down.
        #expect(dataset.records.map(\.location) == [2, 3, 4, 10, 11].map { "\(file):\($0)" })
        #expect(dataset.records[0].image == .file(path: DatasetFixture.path("images/red.png")))
        #expect(try dataset.extras(at: 0) == ["note": "first"])
        #expect(dataset.report.skippedCount == 4)
        #expect(dataset.report.firstSkipped.map(\.location) == [6, 7, 8, 9].map { "\(file):\($0)" })
        #expect(dataset.report.firstSkipped[0].reason.hasPrefix("4 "))
        #expect(dataset.report.firstSkipped[1].reason.contains("missing.png"))
        #expect(dataset.report.firstSkipped[2].reason == "empty caption")
        #expect(dataset.report.firstSkipped[3].reason.contains("never closed"))
        #expect(throws: DatasetError.self) { try dataset.loadImage(dataset.records[4]) }
        let red = try dataset.loadImage(dataset.records[0])
        #expect(red.width == 4 && red.height == 3)
    }

    @Test(arguments: ["manifest.csv", "manifest.tsv"])
    func stopNamesTheFirstBadRow(_ name: String) {
        let error = DatasetFixture.error { try DatasetFixture.open(name) }
        guard case let .malformedRow(location, reason)? = error else {
            Issue.record("expected a malformed row, got \(String(describing: error))")
            return
        }
        #expect(location == DatasetFixture.path(name) + ":6")
        #expect(reason.contains("the header has 5"))
    }

    @Test func columnNamesAreConfigurableAndAMissingColumnIsNamed() throws {
        let error = DatasetFixture.error {
            try DatasetFixture.open("manifest.csv", DatasetOptions(captionColumn: "caption"))
        }
        #expect(error == .missingColumn(file: DatasetFixture.path("manifest.csv"), column: "caption",
                                        available: ["filepath", "title", "id", "split", "note"]))
        // Under skip too: a missing column is not a record problem.
        #expect(DatasetFixture.error {
            try DatasetFixture.open("manifest.csv", DatasetOptions(onBadRecord: .skip, imageColumn: "path"))
        }.map { !$0.isRecordLevel } == true)
        // Using `note` as the caption column: rows with an empty note become empty captions.
        let notes = try DatasetFixture.open("manifest.csv", DatasetOptions(onBadRecord: .skip, captionColumn: "note"))
        #expect(notes.records.map(\.id) == ["red"])
        #expect(notes.records[0].caption == "first")
        #expect(try notes.extras(at: 0)["title"] == "a red square, bright")
    }

    @Test func parserFollowsRFC4180() {
        let text = "a,b,c\r\n\"x,1\",\"say \"\"hi\"\"\",\r\n\r\nplain \"quote\",\"multi\nline\",z\n\"bad\"x,1,2\nlast,row,here"
        var parser = DelimitedTextParser(bytes: Array(text.utf8), delimiter: 0x2C)
        var rows: [DelimitedRow] = []
        while let row = parser.next() { rows.append(row) }
        #expect(rows.map(\.line) == [1, 2, 4, 6, 7])
        #expect(rows[0].fields == ["a", "b", "c"])
        #expect(rows[1].fields == ["x,1", "say \"hi\"", ""])
        #expect(rows[2].fields == ["plain \"quote\"", "multi\nline", "z"])
        #expect(rows[3].fields.isEmpty && rows[3].problem?.contains("after a closing quote") == true)
        #expect(rows[4].fields == ["last", "row", "here"])
    }

    @Test func base64TSVDecodesImagesIntoMemory() throws {
        let dataset = try DatasetFixture.open("pairs-base64.tsv", DatasetOptions(onBadRecord: .skip))
        let file = DatasetFixture.path("pairs-base64.tsv")
        #expect(dataset.format == .base64TSV)
        #expect(dataset.records.map(\.id) == ["red", "green", "blue", "gray", "broken"])
        #expect(dataset.records.map(\.caption) == ["a red square", "a green square", "a blue tile", "a gray square",
                                                   "a broken picture"])
        let expected = try DatasetFixture.expected()
        guard case let .bytes(redBytes) = dataset.records[0].image else {
            Issue.record("base64 images must be held as bytes")
            return
        }
        #expect(redBytes == Array(try Data(contentsOf: URL(fileURLWithPath: DatasetFixture.path("images/red.png")))))
        #expect(redBytes.count == expected.image_sizes["red.png"])
        #expect(dataset.report.firstSkipped == [
            SkippedRecord(location: "\(file):4", reason: "image field is not valid base64"),
            SkippedRecord(location: "\(file):5", reason: "2 tab-separated fields, expected 3 (id, caption, base64 image)"),
        ])
        let gray = try dataset.loadImage(at: 3)
        #expect(gray.pixels == [UInt8](repeating: 128, count: 12))
        let broken = DatasetFixture.error { try dataset.loadImage(at: 4) }
        #expect(broken?.location == "\(file):8")
        // Stop: the bad base64 line.
        #expect(DatasetFixture.error { try DatasetFixture.open("pairs-base64.tsv") }
                == .invalidBase64(location: "\(file):4"))
    }

    @Test func base64TSVHeaderIsGuessedOrForced() throws {
        let directory = try DatasetFixture.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let png = try Data(contentsOf: URL(fileURLWithPath: DatasetFixture.path("images/red.png")))
        // Unpadded base64 is accepted too.
        let encoded = png.base64EncodedString().replacingOccurrences(of: "=", with: "")
        let file = directory + "/noheader.tsv"
        try "1\tfirst\t\(encoded)\n2\tsecond\t\(encoded)\n".write(toFile: file, atomically: true, encoding: .utf8)
        let guessed = try DatasetReader.open(path: file, format: .base64TSV)
        #expect(guessed.records.map(\.id) == ["1", "2"])
        let forced = try DatasetReader.open(path: file, format: .base64TSV, options: DatasetOptions(base64Header: true))
        #expect(forced.records.map(\.id) == ["2"])
        #expect(forced.records[0].location == file + ":2")
    }
}
