import Foundation
import Testing
@testable import ConaclipData

/// Fixture files excerpted from Debian's unicode-data 15.0 (emoji-test.txt)
/// and unicode-cldr-core 41 (annotations and annotationsDerived, en and zh).
enum EmojiFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/emoji").path

    static func bytes(_ name: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: directory + "/" + name) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: directory + "/" + name])
        }
        return [UInt8](data)
    }

    static func text(_ name: String) throws -> String {
        String(decoding: try bytes(name), as: UTF8.self)
    }

    static func annotations(_ language: String) throws -> CLDRAnnotations {
        var primary = try CLDRAnnotations(xml: bytes("annotations-\(language).xml"), file: "annotations-\(language).xml")
        primary.merge(try CLDRAnnotations(xml: bytes("annotationsDerived-\(language).xml"),
                                          file: "annotationsDerived-\(language).xml"))
        return primary
    }
}

@Suite struct EmojiTestFileTests {
    @Test func parsesTheExcerpt() throws {
        let entries = try EmojiTestFile.parse(EmojiFixtures.text("emoji-test-excerpt.txt"))
        #expect(entries.count == 22)
        let fully = entries.filter { $0.qualification == .fullyQualified }
        #expect(fully.count == 17)
        #expect(entries.filter { $0.qualification == .unqualified }.count == 3)
        #expect(entries.filter { $0.qualification == .minimallyQualified }.count == 1)
        #expect(entries.filter { $0.qualification == .component }.count == 1)

        let first = try #require(entries.first)
        #expect(first.codePoints == [0x1F600])
        #expect(first.name == "grinning face")
        #expect(first.version == "E1.0")
        #expect(first.group == "Smileys & Emotion")
        #expect(first.subgroup == "face-smiling")
        #expect(first.id == "1f600")
        #expect(first.string == "😀")

        let wave = try #require(entries.first { $0.id == "1f44b-1f3fd" })
        #expect(wave.name == "waving hand: medium skin tone")
        #expect(wave.group == "People & Body")
        #expect(wave.subgroup == "hand-fingers-open")

        let keycap = try #require(entries.first { $0.codePoints == [0x23, 0xFE0F, 0x20E3] })
        #expect(keycap.name == "keycap: #")
        #expect(keycap.id == "23-fe0f-20e3")
        #expect(keycap.subgroup == "keycap")

        let doctor = try #require(entries.first { $0.name == "man health worker" && $0.qualification == .fullyQualified })
        #expect(doctor.codePoints == [0x1F468, 0x200D, 0x2695, 0xFE0F])
        #expect(doctor.subgroup == "person-role")

        let flag = try #require(entries.last)
        #expect(flag.group == "Flags" && flag.name == "flag: Germany")
    }

    @Test func acceptsCRLFAndReportsBadLinesWithTheirNumber() throws {
        let crlf = "# group: G\r\n# subgroup: s\r\n1F600 ; fully-qualified # 😀 E1.0 grinning face\r\n"
        let parsed = try EmojiTestFile.parse(crlf)
        #expect(parsed.map(\.name) == ["grinning face"])
        #expect(parsed.first?.subgroup == "s")

        let cases: [(String, Int)] = [
            ("# group: G\n# subgroup: s\n1F600 fully-qualified # 😀 E1.0 x\n", 3),   // no ';'
            ("# group: G\n# subgroup: s\n\nZZZZ ; fully-qualified # x E1.0 x\n", 4), // not hex
            ("# group: G\n# subgroup: s\n1F600 ; sort-of-qualified # 😀 E1.0 x\n", 3),
            ("# group: G\n# subgroup: s\n1F600 ; fully-qualified # 😀 grinning face\n", 3), // no version
            ("1F600 ; fully-qualified # 😀 E1.0 grinning face\n", 1),                  // no group yet
            ("# group: G\n# subgroup: s\n110000 ; fully-qualified # x E1.0 x\n", 3),    // not a scalar
        ]
        for (text, line) in cases {
            do {
                _ = try EmojiTestFile.parse(text, file: "t.txt")
                Issue.record("accepted: \(text)")
            } catch {
                guard case .malformedLine(let file, let number, _) = error else {
                    Issue.record("wrong error \(error)")
                    continue
                }
                #expect(file == "t.txt")
                #expect(number == line, "\(text)")
            }
        }
    }
}

@Suite struct EmojiAnnotationsTests {
    @Test func englishAndChineseNamesAndKeywords() throws {
        let en = try EmojiFixtures.annotations("en")
        let zh = try EmojiFixtures.annotations("zh")
        #expect(en.lookup([0x1F600])?.tts == "grinning face")
        #expect(en.lookup([0x1F600])?.keywords == ["face", "grin", "grinning face"])
        #expect(zh.lookup([0x1F600])?.tts == "嘿嘿")
        // Derived file: skin tones and flags.
        #expect(zh.lookup([0x1F44B, 0x1F3FD])?.tts == "挥手: 中等肤色")
        #expect(zh.lookup([0x1F44B, 0x1F3FD])?.keywords == ["中等肤色", "你好", "再见", "挥手"])
        #expect(en.lookup([0x1F1E9, 0x1F1EA])?.tts == "flag: Germany")
        #expect(zh.lookup([0x1F1E9, 0x1F1EA])?.tts == "旗: 德国")
        // CLDR keys drop FE0F; lookups try the sequence as written first, then without it.
        #expect(en.lookup([0x2764, 0xFE0F])?.tts == "red heart")
        #expect(en.lookup([0x1F468, 0x200D, 0x2695, 0xFE0F])?.tts == "man health worker")
        #expect(zh.lookup([0x23, 0xFE0F, 0x20E3])?.tts == "按键: #")
        #expect(en.lookup([0x1F44B, 0x1F3FC]) == nil)   // not in the excerpt
        // Entities and draft attributes.
        #expect(en.lookup([0x26])?.tts == "ampersand")
        #expect(en.lookup([0x203E])?.keywords == ["overline", "overstrike", "vinculum"])
        #expect(zh.lookup([0x203E])?.tts == "上划线")
    }

    @Test func mergeKeepsThePrimaryFile() throws {
        var primary = try CLDRAnnotations(xml: Array(#"<annotation cp="a">one | two</annotation>"#.utf8), file: "p")
        let derived = try CLDRAnnotations(xml: Array(#"""
            <annotation cp="a">three</annotation><annotation cp="a" type="tts">A</annotation>
            <annotation cp="b" type='tts'>B &#x263A; &#65;</annotation>
            """#.utf8), file: "d")
        primary.merge(derived)
        #expect(primary.lookup([0x61]) == CLDRAnnotations.Annotation(keywords: ["one", "two"], tts: "A"))
        #expect(primary.lookup([0x62])?.tts == "B ☺ A")
        #expect(primary.entries.count == 2)
    }

    @Test func malformedXMLIsATypedError() {
        let bad = [
            #"<annotation cp="a">never closed"#,
            #"<annotation cp="a>x</annotation>"#,
            #"<annotation cp=a>x</annotation>"#,
            #"<annotation type="tts">x</annotation>"#,
            #"<annotation cp="a">fish &chips;</annotation>"#,
            #"<!-- unterminated comment <annotation cp="a">x</annotation>"#,
        ]
        for xml in bad {
            do {
                _ = try CLDRAnnotations(xml: Array(xml.utf8), file: "bad.xml")
                Issue.record("accepted: \(xml)")
            } catch {
                guard case .malformedXML(let file, _) = error else { Issue.record("wrong error \(error)"); continue }
                #expect(file == "bad.xml")
            }
        }
        #expect(throws: EmojiDataError.self) {
            try CLDRAnnotations(xml: [0x3C, 0x61, 0x6E, 0x6E, 0x6F, 0x74, 0x61, 0x74, 0x69, 0x6F, 0x6E, 0x20, 0x63, 0x70, 0x3D,
                                      0x22, 0xFF, 0x22, 0x3E, 0x78, 0x3C, 0x2F, 0x61, 0x6E, 0x6E, 0x6F, 0x74, 0x61, 0x74,
                                      0x69, 0x6F, 0x6E, 0x3E], file: "latin1.xml")
        }
    }
}
