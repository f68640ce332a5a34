/// Colour bitmap glyphs: `CBLC` says where each glyph's bitmap is in `CBDT`,
/// `CBDT` holds the bitmaps (for emoji fonts, PNG files).
///
/// One strike (bitmap size) is read: the one with the largest ppem unless
/// another is asked for. Index subtable formats 1 (32-bit offsets) and 3
/// (16-bit offsets) are read, and image formats 17 (small metrics + PNG),
/// 18 (big metrics + PNG) and 19 (PNG, metrics in CBLC). Other formats are
/// reported as `.unsupported` when a glyph using them is asked for.
public struct CBDTGlyphs: Sendable {
    /// Where one glyph's image is in `CBDT`.
    struct Location: Sendable, Equatable {
        var offset: Int
        var length: Int
        var imageFormat: UInt16
    }

    /// One index subtable: glyphs `first...last` share `indexFormat` and `imageFormat`.
    struct IndexSubtable: Sendable {
        var first: UInt16
        var last: UInt16
        var indexFormat: UInt16
        var imageFormat: UInt16
        var imageDataOffset: Int
        /// The subtable (header included) as a view of `CBLC`.
        var data: FontSlice
    }

    /// Pixels per em of the chosen strike.
    public let ppem: Int
    /// The ppem of every strike in the font.
    public let availablePPEMs: [Int]
    private let subtables: [IndexSubtable]
    private let cbdt: FontSlice

    /// Reads `CBLC` and `CBDT` of `font` and picks the strike with ppem
    /// `ppem`, or the largest one when nil.
    public init(font: OpenTypeFont, ppem: Int? = nil) throws(EmojiFontError) {
        try self.init(cblc: font.table("CBLC"), cbdt: font.table("CBDT"), ppem: ppem)
    }

    init(cblc: FontSlice, cbdt: FontSlice, ppem wanted: Int?) throws(EmojiFontError) {
        let major = try cblc.u16(0, "the CBLC major version")
        guard major == 2 || major == 3 else {
            throw EmojiFontError(.unsupported, table: "CBLC", "CBLC version \(major) (expected 3)")
        }
        let cbdtMajor = try cbdt.u16(0, "the CBDT major version")
        guard cbdtMajor == 2 || cbdtMajor == 3 else {
            throw EmojiFontError(.unsupported, table: "CBDT", "CBDT version \(cbdtMajor) (expected 3)")
        }
        let numSizes = Int(try cblc.u32(4, "the strike count"))
        guard numSizes > 0 else { throw EmojiFontError(.malformed, table: "CBLC", "the font has no bitmap strikes") }
        try cblc.check(8, numSizes * 48, "\(numSizes) BitmapSize records")
        var ppems: [Int] = []
        for i in 0..<numSizes { ppems.append(Int(try cblc.u8(8 + 48 * i + 44))) }
        let chosen: Int
        if let wanted {
            guard let index = ppems.firstIndex(of: wanted) else {
                throw EmojiFontError(.missingGlyph, table: "CBLC", "no strike of \(wanted) ppem (available: \(ppems))")
            }
            chosen = index
        } else {
            chosen = ppems.indices.max { ppems[$0] < ppems[$1] } ?? 0
        }
        let record = 8 + 48 * chosen
        let arrayOffset = Int(try cblc.u32(record, "the index subtable array offset"))
        let subtableCount = Int(try cblc.u32(record + 8, "the index subtable count"))
        let array = try cblc.slice(arrayOffset, "the index subtable array")
        try array.check(0, subtableCount * 8, "\(subtableCount) index subtable records")
        var subtables: [IndexSubtable] = []
        for i in 0..<subtableCount {
            let first = try array.u16(8 * i)
            let last = try array.u16(8 * i + 2)
            guard first <= last else {
                throw EmojiFontError(.malformed, table: "CBLC", "index subtable \(i) has first glyph \(first) > last \(last)")
            }
            let data = try array.slice(Int(try array.u32(8 * i + 4)), "index subtable \(i)")
            subtables.append(IndexSubtable(first: first, last: last,
                                           indexFormat: try data.u16(0, "the index format"),
                                           imageFormat: try data.u16(2, "the image format"),
                                           imageDataOffset: Int(try data.u32(4, "the image data offset")), data: data))
        }
        self.ppem = ppems[chosen]
        self.availablePPEMs = ppems
        self.subtables = subtables
        self.cbdt = cbdt
    }

    /// Whether the strike has a bitmap for `glyph` (without reading it).
    public func contains(_ glyph: UInt16) -> Bool {
        subtables.contains { $0.first <= glyph && glyph <= $0.last }
    }

    /// The PNG bytes of `glyph`'s bitmap.
    public func pngData(glyph: UInt16) throws(EmojiFontError) -> [UInt8] {
        let location = try locate(glyph)
        let image = try cbdt.slice(location.offset, length: location.length, "the bitmap of glyph \(glyph)")
        let headerSize: Int
        switch location.imageFormat {
        case 17: headerSize = 5   // smallGlyphMetrics
        case 18: headerSize = 8   // bigGlyphMetrics
        case 19: headerSize = 0
        default:
            throw EmojiFontError(.unsupported, table: "CBDT",
                                 "glyph \(glyph) uses image format \(location.imageFormat) (only PNG formats 17, 18, 19 are read)")
        }
        let dataLength = Int(try image.u32(headerSize, "the PNG length of glyph \(glyph)"))
        return try image.data(headerSize + 4, length: dataLength, "the PNG data of glyph \(glyph)")
    }

    /// Where `glyph`'s image lies in `CBDT`.
    func locate(_ glyph: UInt16) throws(EmojiFontError) -> Location {
        guard let subtable = subtables.first(where: { $0.first <= glyph && glyph <= $0.last }) else {
            throw EmojiFontError(.missingGlyph, table: "CBLC", "glyph \(glyph) has no bitmap in the \(ppem) ppem strike")
        }
        let index = Int(glyph - subtable.first)
        let start: Int, end: Int
        switch subtable.indexFormat {
        case 1:
            start = Int(try subtable.data.u32(8 + 4 * index, "the offset of glyph \(glyph)"))
            end = Int(try subtable.data.u32(8 + 4 * (index + 1), "the end offset of glyph \(glyph)"))
        case 3:
            start = Int(try subtable.data.u16(8 + 2 * index, "the offset of glyph \(glyph)"))
            end = Int(try subtable.data.u16(8 + 2 * (index + 1), "the end offset of glyph \(glyph)"))
        default:
            throw EmojiFontError(.unsupported, table: "CBLC",
                                 "glyph \(glyph) is in an index subtable of format \(subtable.indexFormat) (only 1 and 3 are read)")
        }
        guard start <= end else {
            throw EmojiFontError(.malformed, table: "CBLC", "glyph \(glyph) has offsets \(start) > \(end)")
        }
        guard end > start else {
            throw EmojiFontError(.missingGlyph, table: "CBLC", "glyph \(glyph) has an empty bitmap")
        }
        return Location(offset: subtable.imageDataOffset + start, length: end - start, imageFormat: subtable.imageFormat)
    }
}
