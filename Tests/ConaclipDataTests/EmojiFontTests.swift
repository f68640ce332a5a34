import Foundation
import Testing
@testable import ConaclipData

/// Big-endian byte writer for building small fonts by hand.
struct FontBytesWriter {
    var bytes: [UInt8] = []
    var count: Int { bytes.count }
    mutating func u8(_ v: Int) { bytes.append(UInt8(truncatingIfNeeded: v)) }
    mutating func u16(_ v: Int) { bytes.append(UInt8(truncatingIfNeeded: v >> 8)); bytes.append(UInt8(truncatingIfNeeded: v)) }
    mutating func u32(_ v: Int) { u16(v >> 16); u16(v & 0xFFFF) }
    mutating func tag(_ t: String) { bytes.append(contentsOf: Array(t.utf8)) }
    mutating func append(_ other: [UInt8]) { bytes.append(contentsOf: other) }
    mutating func patch16(at offset: Int, _ v: Int) {
        bytes[offset] = UInt8(truncatingIfNeeded: v >> 8)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: v)
    }
}

/// A tiny colour emoji font built byte by byte, small enough to reason about:
///
/// glyphs: 1 = U+1F600 (format 12), 2 = U+1F3FB (format 12), 3 = U+200D,
/// 4 = U+FE0F, 5 = U+2764 (format 4, one segment by idDelta, one through
/// idRangeOffset); ligatures: lookup 0 (type 4) 1+2 -> 6; lookup 1 (type 7
/// extension of type 4, coverage format 2) 1+3+5 -> 7; lookup 2 (type 4)
/// 6+3+5 -> 8 (so 1F600 1F3FB 200D 2764 needs two lookups in a row);
/// lookup 3 (type 4) 1+4 -> 9 is in no feature and must not be applied.
/// Bitmaps (ppem 20; a second strike of ppem 10 has only glyph 1): glyphs
/// 1-2 index format 1 / image 17, 5-6 index format 3 / image 18, 7-8 index
/// format 1 / image 19. Glyph g's PNG is 2x1 with red = 10 * g.
enum TinyEmojiFont {
    static func glyphPNG(_ glyph: Int, width: Int = 2) -> [UInt8] {
        var image = RGBImage(width: width, height: 1)
        for x in 0..<width { image[x, 0] = (UInt8(10 * glyph), 20, 30) }
        return (try? PNGCodec.encode(image)) ?? []
    }

    static func cmap() -> [UInt8] {
        var w = FontBytesWriter()
        w.u16(0); w.u16(2)
        w.u16(3); w.u16(10); w.u32(4 + 16)           // format 12 at 20
        let format4Offset = 20 + 16 + 2 * 12
        w.u16(3); w.u16(1); w.u32(format4Offset)
        // format 12: two groups
        w.u16(12); w.u16(0); w.u32(16 + 2 * 12); w.u32(0); w.u32(2)
        w.u32(0x1F3FB); w.u32(0x1F3FB); w.u32(2)
        w.u32(0x1F600); w.u32(0x1F600); w.u32(1)
        // format 4: segments [0x200D], [0x2764] (via idRangeOffset), [0xFE0F], [0xFFFF]
        var f = FontBytesWriter()
        let segments = 4
        f.u16(4); f.u16(0); f.u16(0); f.u16(segments * 2); f.u16(0); f.u16(0); f.u16(0)
        for end in [0x200D, 0x2764, 0xFE0F, 0xFFFF] { f.u16(end) }
        f.u16(0)
        for start in [0x200D, 0x2764, 0xFE0F, 0xFFFF] { f.u16(start) }
        for delta in [3 - 0x200D, 0, 4 - 0xFE0F, 1] { f.u16(delta & 0xFFFF) }
        // idRangeOffset for segment 1 points at glyphIdArray[0], 3 entries ahead minus 1 (2 bytes each).
        let rangeOffsetsStart = f.count
        f.u16(0); f.u16(0); f.u16(0); f.u16(0)
        let glyphArray = f.count
        f.u16(5)
        f.patch16(at: rangeOffsetsStart + 2, glyphArray - (rangeOffsetsStart + 2))
        f.patch16(at: 2, f.count)
        w.append(f.bytes)
        return w.bytes
    }

    static func ligatureSubtable(first coverageFormat: Int, glyph: Int, ligatures: [([Int], Int)]) -> [UInt8] {
        var w = FontBytesWriter()
        w.u16(1); w.u16(0); w.u16(1); w.u16(0)   // format, coverage (patched), 1 set, set offset (patched)
        let setOffset = w.count
        w.patch16(at: 6, setOffset)
        w.u16(ligatures.count)
        var ligatureOffsets: [Int] = []
        for _ in ligatures { w.u16(0) }
        for (i, ligature) in ligatures.enumerated() {
            ligatureOffsets.append(w.count - setOffset)
            w.patch16(at: setOffset + 2 + 2 * i, w.count - setOffset)
            w.u16(ligature.1); w.u16(ligature.0.count + 1)
            for component in ligature.0 { w.u16(component) }
        }
        w.patch16(at: 2, w.count)
        if coverageFormat == 1 {
            w.u16(1); w.u16(1); w.u16(glyph)
        } else {
            w.u16(2); w.u16(1); w.u16(glyph); w.u16(glyph); w.u16(0)
        }
        return w.bytes
    }

    static func gsub() -> [UInt8] {
        var w = FontBytesWriter()
        w.u16(1); w.u16(0); w.u16(10); w.u16(0); w.u16(0)   // script list (empty), feature list, lookup list
        // ScriptList at 10: no scripts.
        w.u16(0)
        // FeatureList at 12: one feature 'ccmp' -> lookups 0, 1, 2.
        let featureList = w.count
        w.patch16(at: 6, featureList)
        w.u16(1); w.tag("ccmp"); w.u16(8)
        w.u16(0); w.u16(3); w.u16(0); w.u16(1); w.u16(2)
        // LookupList.
        let lookupList = w.count
        w.patch16(at: 8, lookupList)
        let lookups: [(type: Int, subtable: [UInt8])] = [
            (4, ligatureSubtable(first: 1, glyph: 1, ligatures: [([2], 6)])),
            (7, ligatureSubtable(first: 2, glyph: 1, ligatures: [([3, 5], 7)])),
            (4, ligatureSubtable(first: 1, glyph: 6, ligatures: [([3, 5], 8)])),
            (4, ligatureSubtable(first: 1, glyph: 1, ligatures: [([4], 9)])),
        ]
        w.u16(lookups.count)
        for _ in lookups { w.u16(0) }
        for (i, lookup) in lookups.enumerated() {
            let start = w.count
            w.patch16(at: lookupList + 2 + 2 * i, start - lookupList)
            w.u16(lookup.type); w.u16(0); w.u16(1); w.u16(8)
            if lookup.type == 7 {
                w.u16(1); w.u16(4); w.u32(8)   // extension: format 1, type 4, offset 8 from here
            }
            w.append(lookup.subtable)
        }
        return w.bytes
    }

    /// (CBLC, CBDT)
    static func bitmaps() -> ([UInt8], [UInt8]) {
        var cbdt = FontBytesWriter()
        cbdt.u16(3); cbdt.u16(0)
        func image(_ glyph: Int, format: Int) -> Int {
            let start = cbdt.count
            let png = glyphPNG(glyph)
            if format == 17 { for _ in 0..<5 { cbdt.u8(1) } }
            if format == 18 { for _ in 0..<8 { cbdt.u8(1) } }
            cbdt.u32(png.count)
            cbdt.append(png)
            return start
        }
        // Strike 1 (ppem 10): glyph 1 only, format 1 / 17.
        let small1 = image(1, format: 17)
        let small1End = cbdt.count
        // Strike 2 (ppem 20).
        var offsets17: [Int] = [], offsets18: [Int] = [], offsets19: [Int] = []
        for g in [1, 2] { offsets17.append(image(g, format: 17)) }
        offsets17.append(cbdt.count)
        for g in [5, 6] { offsets18.append(image(g, format: 18)) }
        offsets18.append(cbdt.count)
        for g in [7, 8] { offsets19.append(image(g, format: 19)) }
        offsets19.append(cbdt.count)

        var cblc = FontBytesWriter()
        cblc.u16(3); cblc.u16(0); cblc.u32(2)
        let sizesStart = cblc.count
        func sizeRecord(ppem: Int, start: Int, end: Int) {
            cblc.u32(0); cblc.u32(0); cblc.u32(0); cblc.u32(0)   // array offset, size, count (patched), colorRef
            for _ in 0..<24 { cblc.u8(0) }
            cblc.u16(start); cblc.u16(end); cblc.u8(ppem); cblc.u8(ppem); cblc.u8(32); cblc.u8(1)
        }
        sizeRecord(ppem: 10, start: 1, end: 1)
        sizeRecord(ppem: 20, start: 1, end: 8)
        func subtables(record: Int, _ tables: [(first: Int, last: Int, indexFormat: Int, imageFormat: Int, offsets: [Int])]) {
            let arrayStart = cblc.count
            let recordOffset = sizesStart + 48 * record
            cblc.patch16(at: recordOffset, arrayStart >> 16); cblc.patch16(at: recordOffset + 2, arrayStart & 0xFFFF)
            cblc.patch16(at: recordOffset + 10, tables.count)
            for _ in tables { cblc.u32(0); cblc.u32(0) }
            for (i, table) in tables.enumerated() {
                let entry = arrayStart + 8 * i
                cblc.patch16(at: entry, table.first); cblc.patch16(at: entry + 2, table.last)
                cblc.patch16(at: entry + 6, cblc.count - arrayStart)
                let base = table.offsets[0]
                cblc.u16(table.indexFormat); cblc.u16(table.imageFormat); cblc.u32(base)
                for offset in table.offsets {
                    if table.indexFormat == 1 { cblc.u32(offset - base) } else { cblc.u16(offset - base) }
                }
            }
        }
        subtables(record: 0, [(1, 1, 1, 17, [small1, small1End])])
        subtables(record: 1, [(1, 2, 1, 17, offsets17), (5, 6, 3, 18, offsets18), (7, 8, 1, 19, offsets19)])
        return (cblc.bytes, cbdt.bytes)
    }

    /// The whole font; CBDT is the last table, so every truncation cuts into data that is used.
    static func bytes() -> [UInt8] {
        let (cblc, cbdt) = bitmaps()
        let tables: [(String, [UInt8])] = [("CBLC", cblc), ("GSUB", gsub()), ("cmap", cmap()), ("CBDT", cbdt)]
        var w = FontBytesWriter()
        w.u32(0x0001_0000); w.u16(tables.count); w.u16(0); w.u16(0); w.u16(0)
        var offset = 12 + 16 * tables.count
        for (tag, data) in tables {
            w.tag(tag); w.u32(0); w.u32(offset); w.u32(data.count)
            offset += data.count
        }
        for (_, data) in tables { w.append(data) }
        return w.bytes
    }
}

@Suite struct EmojiFontTests {
    static let realFontPath = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"

    func red(ofPNG png: [UInt8]) throws -> Int {
        Int(try PNGCodec.decode(png)[0, 0].red)
    }

    @Test func tinyFontMapsCodePointsAndSequences() throws {
        let font = try EmojiFont(font: OpenTypeFont(bytes: TinyEmojiFont.bytes()))
        #expect(font.cmap.formats == [12, 4])
        #expect(font.cmap.glyph(for: 0x1F600) == 1)
        #expect(font.cmap.glyph(for: 0x1F3FB) == 2)
        #expect(font.cmap.glyph(for: 0x200D) == 3)
        #expect(font.cmap.glyph(for: 0x2764) == 5)   // through idRangeOffset
        #expect(font.cmap.glyph(for: 0xFE0F) == 4)
        #expect(font.cmap.glyph(for: 0x1F601) == nil)
        #expect(font.cmap.glyph(for: 0x41) == nil)
        #expect(font.ligatures.lookupCount == 3)     // lookup 3 is in no feature
        #expect(font.ligatures.ligatureCount == 3)

        #expect(font.glyph(for: [0x1F600])?.glyph == 1)
        #expect(font.glyph(for: [0x1F600, 0x1F3FB])?.glyph == 6)
        #expect(font.glyph(for: [0x1F600, 0x200D, 0x2764])?.glyph == 7)          // extension lookup
        #expect(font.glyph(for: [0x1F600, 0x1F3FB, 0x200D, 0x2764])?.glyph == 8) // two lookups in a row
        // As written it shapes to two glyphs (the unused lookup 3 would have made glyph 9);
        // without FE0F it is glyph 1.
        let withSelector = font.glyph(for: [0x1F600, 0xFE0F])
        #expect(withSelector?.glyph == 1)
        #expect(withSelector?.match == .withoutVariationSelector)
        #expect(font.glyph(for: [0x1F600])?.match == .asWritten)
        #expect(font.glyph(for: [0x200D]) == nil)            // mapped but no bitmap
        #expect(font.glyph(for: [0x1F600, 0x1F601]) == nil)  // unmapped code point
        #expect(font.glyph(for: []) == nil)
    }

    @Test func tinyFontReadsEveryBitmapFormat() throws {
        let font = try EmojiFont(font: OpenTypeFont(bytes: TinyEmojiFont.bytes()))
        #expect(font.bitmaps.ppem == 20)
        #expect(font.bitmaps.availablePPEMs == [10, 20])
        for glyph in [1, 2, 5, 6, 7, 8] {
            let png = try font.bitmaps.pngData(glyph: UInt16(glyph))
            #expect(png == TinyEmojiFont.glyphPNG(glyph), "glyph \(glyph)")
            #expect(try red(ofPNG: png) == 10 * glyph)
        }
        #expect(try red(ofPNG: font.pngData(for: [0x1F600, 0x1F3FB, 0x200D, 0x2764]).png) == 80)
        #expect(throws: EmojiFontError.self) { try font.bitmaps.pngData(glyph: 3) }
        let small = try CBDTGlyphs(font: OpenTypeFont(bytes: TinyEmojiFont.bytes()), ppem: 10)
        #expect(small.contains(1) && !small.contains(2))
        #expect(try red(ofPNG: small.pngData(glyph: 1)) == 10)
        #expect(throws: EmojiFontError.self) { try CBDTGlyphs(font: OpenTypeFont(bytes: TinyEmojiFont.bytes()), ppem: 15) }
    }

    @Test func everyTruncationThrowsInsteadOfCrashing() throws {
        let full = TinyEmojiFont.bytes()
        let sequences: [[UInt32]] = [[0x1F600], [0x1F600, 0x1F3FB], [0x1F600, 0x200D, 0x2764],
                                     [0x1F600, 0x1F3FB, 0x200D, 0x2764], [0x2764], [0x1F3FB]]
        var failures = 0
        for length in 0..<full.count {
            do {
                let font = try EmojiFont(font: OpenTypeFont(bytes: Array(full.prefix(length))))
                for sequence in sequences { _ = try font.pngData(for: sequence) }
                _ = try font.bitmaps.pngData(glyph: 6)   // glyph 6 is drawn by no sequence above on its own
            } catch {
                failures += 1
            }
        }
        #expect(failures == full.count, "\(full.count - failures) truncated fonts read without error")
    }

    @Test func badOffsetsAreTypedErrors() throws {
        var bytes = TinyEmojiFont.bytes()
        // Table record 0 (CBLC): its length field at 12 + 12 becomes huge.
        bytes[24] = 0x7F
        do {
            _ = try OpenTypeFont(bytes: bytes)
            Issue.record("a table past the end of the file was accepted")
        } catch {
            #expect(error.kind == .outOfBounds)
            #expect(error.table == "file")
        }
        #expect(throws: EmojiFontError.self) { try OpenTypeFont(bytes: Array("not a font at all".utf8)) }
        var collection = TinyEmojiFont.bytes()
        collection.replaceSubrange(0..<4, with: Array("ttcf".utf8))
        do { _ = try OpenTypeFont(bytes: collection); Issue.record("a .ttc was accepted") } catch {
            #expect(error.kind == .unsupported)
        }
        // A GSUB lookup offset pointing past the table.
        let clean = TinyEmojiFont.bytes()
        let font = try OpenTypeFont(bytes: clean)
        guard let gsub = font.tables["GSUB"] else { Issue.record("no GSUB"); return }
        let lookupList = Int(clean[gsub.offset + 8]) << 8 | Int(clean[gsub.offset + 9])
        var broken = clean
        broken[gsub.offset + lookupList + 2] = 0xFF
        do { _ = try GSUBLigatures(font: OpenTypeFont(bytes: broken)); Issue.record("a bad lookup offset was accepted") } catch {
            #expect(error.kind == .outOfBounds)
            #expect(error.table == "GSUB")
        }
        // Only the table directory: every table lies past the end.
        #expect(throws: EmojiFontError.self) { try OpenTypeFont(bytes: Array(TinyEmojiFont.bytes().prefix(12 + 64))) }
    }

    @Test func overlappingFormat4SegmentsAreRejected() {
        // Two segments both covering 0...0xFFFE would make a hostile font map
        // billions of code points; the reader insists on sorted, disjoint segments.
        var w = FontBytesWriter()
        w.u16(0); w.u16(1); w.u16(3); w.u16(1); w.u32(12)
        w.u16(4); w.u16(14 + 4 * 2 * 3 + 2); w.u16(0); w.u16(3 * 2); w.u16(0); w.u16(0); w.u16(0)
        for end in [0xFFFE, 0xFFFE, 0xFFFF] { w.u16(end) }
        w.u16(0)
        for start in [0, 0, 0xFFFF] { w.u16(start) }
        for _ in 0..<3 { w.u16(1) }
        for _ in 0..<3 { w.u16(0) }
        do {
            _ = try CmapTable(table: FontSlice(bytes: w.bytes, table: "cmap"))
            Issue.record("overlapping segments were accepted")
        } catch {
            #expect(error.kind == .malformed)
        }
    }

    /// Glyph ids checked against fontTools 4.38 (TTFont.getBestCmap + the
    /// font's LookupType 4 ligatures, FE0F dropped when needed) on Debian's
    /// fonts-noto-color-emoji 2.042.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: realFontPath),
                   "needs \(realFontPath): apt-get install fonts-noto-color-emoji"))
    func realNotoColorEmoji() throws {
        let font = try EmojiFont(contentsOfFile: Self.realFontPath)
        #expect(font.bitmaps.ppem == 109)
        let expected: [(String, UInt16, EmojiFont.Match)] = [
            ("1f600", 883, .asWritten),
            ("2764-fe0f", 168, .withoutVariationSelector),
            ("1f441-fe0f-200d-1f5e8-fe0f", 2003, .withoutVariationSelector),
            ("1f44b-1f3fd", 2041, .asWritten),
            ("1f9d1-1f3fb-200d-1f91d-200d-1f9d1-1f3ff", 3537, .asWritten),
            ("1f468-200d-1f469-200d-1f467-200d-1f466", 2105, .asWritten),
            ("267e-fe0f", 101, .withoutVariationSelector),
            ("23-fe0f-20e3", 1468, .withoutVariationSelector),
            ("1f1e9-1f1ea", 1581, .asWritten),
            ("1f3f4-e0067-e0062-e0073-e0063-e0074-e007f", 1913, .asWritten),
        ]
        for (id, glyph, match) in expected {
            let codePoints = id.split(separator: "-").compactMap { UInt32($0, radix: 16) }
            let found = font.glyph(for: codePoints)
            #expect(found?.glyph == glyph, "\(id)")
            #expect(found?.match == match, "\(id)")
        }
        let picture = try PNGCodec.decode(font.pngData(for: [0x1F600]).png)
        #expect(picture.width == 136 && picture.height == 128)
    }
}
