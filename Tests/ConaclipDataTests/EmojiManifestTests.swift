import Foundation
import Testing
@testable import ConaclipData

@Suite struct EmojiManifestTests {
    static func record(_ codePoints: [UInt32], caption: String, split: EmojiSplitName = .train,
                       reason: EmojiHoldoutReason? = nil, group: String = "G") -> EmojiManifestRecord {
        let id = EmojiTestFile.id(for: codePoints)
        return EmojiManifestRecord(id: id, codePoints: codePoints, image: "images/64/\(id).png",
                                   image32: "images/32/\(id).png", caption: caption, captionZh: nil, captionCLDR: nil,
                                   keywords: [], keywordsZh: [], group: group, subgroup: "s", split: split,
                                   heldOutReason: reason, returnedToTrain: nil, family: id, sameImageAs: [],
                                   version: "E1.0", glyph: 1, glyphMatch: .asWritten)
    }

    @Test func lineHasTheDocumentedKeysInOrder() {
        var r = Self.record([0x1F44B, 0x1F3FD], caption: "waving hand: medium skin tone", split: .test, reason: .skinTone)
        r.captionZh = "挥手: 中等肤色"
        r.keywords = ["hand", "wave"]
        r.sameImageAs = ["1f44b"]
        r.family = "1f44b"
        #expect(r.json.serialized() == #"{"id":"1f44b-1f3fd","emoji":"👋🏽","image":"images/64/1f44b-1f3fd.png","#
            + #""image_32":"images/32/1f44b-1f3fd.png","caption":"waving hand: medium skin tone","#
            + #""caption_zh":"挥手: 中等肤色","caption_cldr":null,"keywords":["hand","wave"],"keywords_zh":[],"#
            + #""group":"G","subgroup":"s","split":"test","held_out":"skin-tone","returned_to_train":null,"#
            + #""family":"1f44b","same_image_as":["1f44b"],"emoji_version":"E1.0","glyph":1,"glyph_match":"as-written"}"#)
    }

    @Test func stringsAreEscapedAndRoundTrip() throws {
        let nasty = "quote \" backslash \\ newline \n tab \t bell \u{07} line-sep \u{2028} 漢字 👋🏽"
        let json = OrderedJSON.object([("k", .string(nasty)), ("n", .null), ("f", .fixed(0.125, decimals: 2))]).serialized()
        #expect(!json.contains("\n"))
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(parsed?["k"] as? String == nasty)
        #expect(parsed?["n"] is NSNull)
        #expect(json.hasSuffix(#""f":0.12}"#) || json.hasSuffix(#""f":0.13}"#))
    }

    @Test func manifestIsSortedAndIndependentOfInputOrder() throws {
        let records = [Self.record([0x1F600], caption: "b"), Self.record([0x231A], caption: "a"),
                       Self.record([0x1F600, 0x1F3FB], caption: "c"), Self.record([0x23, 0xFE0F, 0x20E3], caption: "d")]
        let text = EmojiManifest.jsonl(records)
        #expect(text == EmojiManifest.jsonl(records.reversed()))
        #expect(text.hasSuffix("}\n"))
        let ids = try text.split(separator: "\n").map { line -> String in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["id"] as? String ?? ""
        }
        // Numeric code point order: 0x23 < 0x231A < 0x1F600 < 0x1F600 0x1F3FB.
        #expect(ids == ["23-fe0f-20e3", "231a", "1f600", "1f600-1f3fb"])
    }

    @Test func statisticsCountSplitsGroupsAndReasons() throws {
        let records = [Self.record([1], caption: "a", group: "X"), Self.record([2], caption: "b", split: .val, reason: .family, group: "X"),
                       Self.record([3], caption: "c", split: .test, reason: .skinTone, group: "Y"),
                       Self.record([4], caption: "d", split: .test, reason: .skinTone, group: "Y")]
        let json = EmojiManifest.statistics(records).serialized(pretty: true)
        let stats = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(stats["total"] as? Int == 4)
        #expect(stats["splits"] as? [String: Int] == ["train": 1, "val": 1, "test": 2])
        let reasons = stats["held_out_reasons"] as? [String: [String: Int]]
        #expect(reasons?["skin-tone"] == ["train": 0, "val": 0, "test": 2])
        #expect(reasons?["family"] == ["train": 0, "val": 1, "test": 0])
        let groups = stats["groups"] as? [String: [String: Int]]
        #expect(groups?["Y"] == ["train": 0, "val": 0, "test": 2])
        #expect(json == EmojiManifest.statistics(records.reversed()).serialized(pretty: true))
    }
}

/// The whole builder on a hand-made font and tiny data files.
@Suite struct EmojiDatasetBuilderTests {
    static let emojiTest = """
        # group: Smileys & Emotion
        # subgroup: face-smiling
        1F600 ; fully-qualified # 😀 E1.0 grinning face
        1F600 FE0F ; fully-qualified # 😀️ E1.0 grinning face selected
        1F600 1F3FB ; fully-qualified # 😀🏻 E1.0 grinning face: light skin tone
        1F600 200D 2764 ; fully-qualified # 😀‍❤ E1.0 grinning heart
        1F600 1F3FB 200D 2764 ; fully-qualified # 😀🏻‍❤ E1.0 grinning heart: light skin tone
        1F601 ; fully-qualified # 😁 E1.0 beaming face
        # subgroup: heart
        2764 ; fully-qualified # ❤ E0.6 red heart
        # group: Component
        # subgroup: skin-tone
        1F3FB ; component # 🏻 E1.0 light skin tone

        """

    static func cldr(_ entries: [(String, String, String)]) -> String {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<ldml><annotations>\n"
        for (cp, keywords, tts) in entries {
            xml += "<annotation cp=\"\(cp)\">\(keywords)</annotation>\n<annotation cp=\"\(cp)\" type=\"tts\">\(tts)</annotation>\n"
        }
        return xml + "</annotations></ldml>\n"
    }

    /// Writes the inputs under a fresh temporary directory.
    static func makeInputs() throws -> (EmojiDatasetBuilder.Inputs, String) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("emoji-builder-\(UUID().uuidString)").path
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/cldr/annotations", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/cldr/annotationsDerived", withIntermediateDirectories: true)
        try Data(TinyEmojiFont.bytes()).write(to: URL(fileURLWithPath: root + "/font.ttf"))
        try Data(emojiTest.utf8).write(to: URL(fileURLWithPath: root + "/emoji-test.txt"))
        let files = [
            ("annotations/en.xml", cldr([("😀", "face | grin", "grinning face"), ("❤", "heart", "red heart")])),
            ("annotations/zh.xml", cldr([("😀", "嘿嘿 | 脸", "嘿嘿"), ("❤", "心", "红心")])),
            ("annotationsDerived/en.xml", cldr([("😀🏻", "face | light skin tone", "grinning face: light skin tone")])),
            ("annotationsDerived/zh.xml", cldr([("😀🏻", "嘿嘿 | 较浅肤色", "嘿嘿: 较浅肤色")])),
        ]
        for (name, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/cldr/" + name)) }
        return (EmojiDatasetBuilder.Inputs(font: root + "/font.ttf", emojiTest: root + "/emoji-test.txt",
                                           cldrCommon: root + "/cldr"), root)
    }

    static func files(under directory: String) throws -> [String: Data] {
        var result: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue {
                result[path] = FileManager.default.contents(atPath: directory + "/" + path)
            }
        }
        return result
    }

    @Test func buildsDeterministicOutput() throws {
        let (inputs, root) = try Self.makeInputs()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let first = try EmojiDatasetBuilder.build(inputs: inputs, into: root + "/out1")
        let second = try EmojiDatasetBuilder.build(inputs: inputs, into: root + "/out2")
        #expect(first == second)
        #expect(first.fullyQualified == 7)
        #expect(first.written == 6)
        #expect(first.skipped == ["1f601"])
        #expect(first.withChineseCaption == 4)

        let one = try Self.files(under: root + "/out1"), two = try Self.files(under: root + "/out2")
        #expect(one.count == 2 * 6 + 4)
        #expect(one == two, "a second run changed \(one.keys.filter { one[$0] != two[$0] }.sorted())")

        let manifest = String(decoding: try #require(one["manifest.jsonl"]), as: UTF8.self)
        let lines = try manifest.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(lines.map { $0["id"] as? String } == ["2764", "1f600", "1f600-200d-2764", "1f600-fe0f",
                                                      "1f600-1f3fb", "1f600-1f3fb-200d-2764"])
        let grin = try #require(lines.first { $0["id"] as? String == "1f600" })
        #expect(grin["caption"] as? String == "grinning face")
        #expect(grin["caption_zh"] as? String == "嘿嘿")
        #expect(grin["keywords"] as? [String] == ["face", "grin"])
        #expect(grin["same_image_as"] as? [String] == ["1f600-fe0f"])   // FE0F dropped: the same glyph
        #expect(grin["split"] as? String == "train")
        let selected = try #require(lines.first { $0["id"] as? String == "1f600-fe0f" })
        #expect(selected["glyph_match"] as? String == "without-fe0f")
        #expect(selected["caption_zh"] as? String == "嘿嘿")              // CLDR matched without FE0F
        let toned = try #require(lines.first { $0["id"] as? String == "1f600-1f3fb" })
        #expect(toned["caption_zh"] as? String == "嘿嘿: 较浅肤色")
        #expect(toned["family"] as? String == "1f600")
        let heartless = try #require(lines.first { $0["id"] as? String == "1f600-200d-2764" })
        #expect(heartless["caption_zh"] is NSNull)
        for line in lines {
            #expect(["train", "val", "test"].contains(line["split"] as? String ?? ""))
        }

        // Pictures: 64x64 and 32x32 RGB; glyph 1 is a 2x1 bitmap of red 10 centred on white.
        let large = try PNGCodec.decode([UInt8](try #require(one["images/64/1f600.png"])))
        let small = try PNGCodec.decode([UInt8](try #require(one["images/32/1f600.png"])))
        #expect(large.width == 64 && large.height == 64 && small.width == 32 && small.height == 32)
        #expect(large[0, 0].red < 60 && large[0, 0].green < 60)
        #expect(large[0, 63] == (255, 255, 255))
        let heart = try PNGCodec.decode([UInt8](try #require(one["images/64/2764.png"])))
        // Glyph 5 (red 50) rather than glyph 1 (red 10); bicubic overshoot from the white row pulls both down (to 25 and 0).
        #expect(Int(heart[0, 0].red) > Int(large[0, 0].red) + 15, "\(heart[0, 0]) vs \(large[0, 0])")

        #expect(one["split-stats.json"] != nil)
        let sheet = try PNGCodec.decode([UInt8](try #require(one["contact-sheet.png"])))
        #expect(sheet.width > 64 && sheet.height >= 64)
        let sheetText = String(decoding: try #require(one["contact-sheet.txt"]), as: UTF8.self)
        #expect(sheetText.split(separator: "\n").count == 6)
        #expect(sheetText.hasPrefix("row 1 col 1\ttrain\t"))
    }

    @Test func missingInputsNameTheAptCommand() {
        let inputs = EmojiDatasetBuilder.Inputs(font: "/nonexistent/NotoColorEmoji.ttf",
                                                emojiTest: "/nonexistent/emoji-test.txt",
                                                cldrCommon: "/nonexistent/cldr")
        do {
            _ = try EmojiDatasetBuilder.build(inputs: inputs, into: "/nonexistent/out")
            Issue.record("built from missing files")
        } catch {
            guard case .missingInputs(let missing) = error else { Issue.record("wrong error \(error)"); return }
            #expect(missing.count == 6)
            #expect(EmojiDataError.installCommand(for: missing)
                    == "apt-get install fonts-noto-color-emoji unicode-data unicode-cldr-core")
            #expect(error.description.contains("/nonexistent/cldr/annotationsDerived/zh.xml"))
        }
    }
}
