/// A colour emoji font ready to answer "which bitmap draws this emoji
/// sequence?": `cmap` for single code points, `GSUB` ligatures for
/// sequences, `CBLC`/`CBDT` for the PNG bitmaps.
public struct EmojiFont: Sendable {
    /// How a sequence was matched to a glyph.
    public enum Match: String, Sendable, Equatable {
        /// The code points exactly as given.
        case asWritten = "as-written"
        /// The code points with every U+FE0F (emoji variation selector) removed.
        case withoutVariationSelector = "without-fe0f"
    }

    /// The emoji presentation selector U+FE0F.
    public static let variationSelector16: UInt32 = 0xFE0F

    public let cmap: CmapTable
    public let ligatures: GSUBLigatures
    public let bitmaps: CBDTGlyphs

    /// Reads the font file at `path`.
    public init(contentsOfFile path: String) throws(EmojiFontError) {
        try self.init(font: OpenTypeFont(contentsOfFile: path))
    }

    /// Reads the tables of an already-parsed font.
    public init(font: OpenTypeFont) throws(EmojiFontError) {
        cmap = try CmapTable(font: font)
        ligatures = try GSUBLigatures(font: font)
        bitmaps = try CBDTGlyphs(font: font)
    }

    /// The glyph that draws `codePoints` as one bitmap: the sequence as
    /// written, else with U+FE0F removed; nil when neither maps every code
    /// point and shapes to a single glyph that has a bitmap.
    public func glyph(for codePoints: [UInt32]) -> (glyph: UInt16, match: Match)? {
        if let glyph = singleGlyph(codePoints) { return (glyph, .asWritten) }
        if codePoints.contains(Self.variationSelector16) {
            let stripped = codePoints.filter { $0 != Self.variationSelector16 }
            if let glyph = singleGlyph(stripped) { return (glyph, .withoutVariationSelector) }
        }
        return nil
    }

    /// The PNG bytes that draw `codePoints`, or `.missingGlyph`.
    public func pngData(for codePoints: [UInt32]) throws(EmojiFontError) -> (png: [UInt8], glyph: UInt16, match: Match) {
        guard let found = glyph(for: codePoints) else {
            let hex = codePoints.map { String($0, radix: 16, uppercase: true) }.joined(separator: " ")
            throw EmojiFontError(.missingGlyph, table: "GSUB", "no single glyph with a bitmap draws \(hex)")
        }
        return (try bitmaps.pngData(glyph: found.glyph), found.glyph, found.match)
    }

    private func singleGlyph(_ codePoints: [UInt32]) -> UInt16? {
        guard !codePoints.isEmpty else { return nil }
        var glyphs: [UInt16] = []
        glyphs.reserveCapacity(codePoints.count)
        for codePoint in codePoints {
            guard let glyph = cmap.glyph(for: codePoint) else { return nil }
            glyphs.append(glyph)
        }
        let shaped = ligatures.apply(glyphs)
        guard shaped.count == 1, let glyph = shaped.first, bitmaps.contains(glyph) else { return nil }
        return glyph
    }
}
