import Testing
@testable import ConaclipReport

/// The built-in font: measurement, wrapping and what gets drawn.
@Suite struct BitmapFontTests {
    @Test func measuresAndDrawsPrintableAscii() {
        #expect(BitmapFont.width(of: "") == 0)
        #expect(BitmapFont.width(of: "ab") == 11)
        #expect(BitmapFont.width(of: "ab", scale: 2) == 22)
        #expect(BitmapFont.glyphs.count == 95 * BitmapFont.glyphWidth)
        // Every printable glyph but the space sets some pixel inside its 5x7 box.
        for ascii in UInt8(0x21)...UInt8(0x7E) {
            let columns = BitmapFont.columns(of: Character(UnicodeScalar(ascii)))
            #expect(columns?.contains { $0 != 0 } == true, "glyph \(ascii) is blank")
            // Only the descender of g reaches below the 7 rows.
            #expect(columns?.allSatisfy { $0 < 0x80 } == (ascii != UInt8(ascii: "g")), "glyph \(ascii) rows")
        }
        #expect(BitmapFont.columns(of: "é") == nil)
    }

    @Test func textLandsWhereItIsMeasured() {
        var canvas = Canvas(width: 60, height: 20)
        canvas.text("Hi!", x: 5, y: 3, color: .black, scale: 2)
        var minX = Int.max, maxX = Int.min, minY = Int.max, maxY = Int.min
        for y in 0..<canvas.height {
            for x in 0..<canvas.width where canvas.color(x: x, y: y) == .black {
                minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
            }
        }
        #expect(minX == 5 && minY == 3)
        #expect(maxX < 5 + BitmapFont.width(of: "Hi!", scale: 2))
        #expect(maxY < 3 + BitmapFont.height(scale: 2))
        // g descends one font pixel below the other letters, inside the line height.
        var descender = Canvas(width: 10, height: 10)
        descender.text("g", x: 0, y: 0, color: .black)
        #expect((0..<6).contains { descender.color(x: $0, y: 7) == .black })
        // A character outside ASCII is a box, not nothing.
        var box = Canvas(width: 10, height: 10)
        box.text("日", x: 0, y: 0, color: .black)
        #expect(box.color(x: 0, y: 0) == .black && box.color(x: 4, y: 6) == .black && box.color(x: 2, y: 3) == .white)
    }

    @Test func wrapsAtSpacesAndCutsLongWords() {
        let perLine = 10   // (61 + 1) / 6 characters at scale 1
        let lines = BitmapFont.wrapped("a red heart with sparkles", toWidth: 61)
        #expect(lines == ["a red", "heart with", "sparkles"])
        #expect(lines.allSatisfy { $0.count <= perLine })
        #expect(BitmapFont.wrapped("abcdefghijklmnopqrstuvwxyz", toWidth: 61) == ["abcdefghij", "klmnopqrst", "uvwxyz"])
        let cut = BitmapFont.wrapped("one two three four five six", toWidth: 61, maxLines: 2)
        #expect(cut.count == 2 && cut[1].hasSuffix("..."))
        #expect(BitmapFont.width(of: cut[1]) <= 61)
        #expect(BitmapFont.truncated("short", toWidth: 100) == "short")
        #expect(BitmapFont.truncated("a much longer caption", toWidth: 61) == "a much ...")
    }
}
