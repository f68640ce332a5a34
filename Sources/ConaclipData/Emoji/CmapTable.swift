/// The font's `cmap`: maps single Unicode code points to glyph ids.
///
/// Reads the best Unicode subtables: format 12 (segmented coverage, full
/// Unicode; platform 3 encoding 10 or platform 0 encodings 4/6) and format 4
/// (segment mapping, BMP; platform 3 encoding 1 or platform 0 encodings 0-3).
/// When both exist, format 12 wins and format 4 fills code points it lacks.
public struct CmapTable: Sendable {
    /// One format 12 group: code points `start...end` map to consecutive glyphs from `startGlyph`.
    struct Group: Sendable {
        var start: UInt32
        var end: UInt32
        var startGlyph: UInt32
    }

    /// Format 12 groups, sorted by start and non-overlapping.
    private var groups: [Group] = []
    /// Format 4 mappings (BMP, so at most 65,536 entries).
    private var bmp: [UInt32: UInt16] = [:]
    /// The subtable formats that were read, e.g. [12, 4].
    public private(set) var formats: [Int] = []

    /// Reads the `cmap` table of `font`.
    public init(font: OpenTypeFont) throws(EmojiFontError) {
        try self.init(table: font.table("cmap"))
    }

    init(table: FontSlice) throws(EmojiFontError) {
        let numTables = Int(try table.u16(2, "the encoding record count"))
        try table.check(4, numTables * 8, "\(numTables) encoding records")
        var format12: FontSlice?
        var format4: FontSlice?
        for index in 0..<numTables {
            let record = 4 + index * 8
            let platform = try table.u16(record)
            let encoding = try table.u16(record + 2)
            let offset = Int(try table.u32(record + 4))
            let isUnicodeFull = (platform == 3 && encoding == 10) || (platform == 0 && (encoding == 4 || encoding == 6))
            let isUnicodeBMP = (platform == 3 && encoding == 1) || (platform == 0 && encoding <= 3)
            guard isUnicodeFull || isUnicodeBMP else { continue }
            let format = try table.u16(offset, "the format of subtable \(index)")
            let subtable = try table.slice(offset, "cmap subtable \(index)")
            if format == 12 && format12 == nil { format12 = subtable }
            if format == 4 && format4 == nil { format4 = subtable }
        }
        guard format12 != nil || format4 != nil else {
            throw EmojiFontError(.unsupported, table: "cmap", "no Unicode subtable of format 12 or 4")
        }
        if let format12 {
            groups = try Self.readFormat12(format12)
            formats.append(12)
        }
        if let format4 {
            bmp = try Self.readFormat4(format4)
            formats.append(4)
        }
    }

    /// The glyph for code point `codePoint`, or nil when the font has none.
    /// Glyph 0 (.notdef) counts as none.
    public func glyph(for codePoint: UInt32) -> UInt16? {
        var low = 0, high = groups.count
        while low < high {
            let mid = (low + high) / 2
            if groups[mid].end < codePoint { low = mid + 1 } else { high = mid }
        }
        if low < groups.count, groups[low].start <= codePoint {
            let glyph = groups[low].startGlyph &+ (codePoint - groups[low].start)
            if glyph != 0, glyph <= UInt32(UInt16.max) { return UInt16(glyph) }
        }
        if let glyph = bmp[codePoint], glyph != 0 { return glyph }
        return nil
    }

    private static func readFormat12(_ table: FontSlice) throws(EmojiFontError) -> [Group] {
        let length = Int(try table.u32(4, "the format 12 length"))
        let subtable = try table.slice(0, length: length, "the format 12 subtable")
        let count = Int(try subtable.u32(12, "the format 12 group count"))
        guard count <= (length - 16) / 12 else {
            throw EmojiFontError(.outOfBounds, table: "cmap",
                                 "format 12 declares \(count) groups but its length \(length) holds at most \((length - 16) / 12)")
        }
        var groups: [Group] = []
        groups.reserveCapacity(count)
        for index in 0..<count {
            let record = 16 + index * 12
            let group = Group(start: try subtable.u32(record), end: try subtable.u32(record + 4),
                              startGlyph: try subtable.u32(record + 8))
            guard group.start <= group.end, group.end <= 0x10FFFF else {
                throw EmojiFontError(.malformed, table: "cmap",
                                     "format 12 group \(index) has the invalid range \(group.start)...\(group.end)")
            }
            if let last = groups.last, last.end >= group.start {
                throw EmojiFontError(.malformed, table: "cmap",
                                     "format 12 group \(index) is not sorted after the previous group")
            }
            groups.append(group)
        }
        return groups
    }

    private static func readFormat4(_ table: FontSlice) throws(EmojiFontError) -> [UInt32: UInt16] {
        let length = Int(try table.u16(2, "the format 4 length"))
        let subtable = try table.slice(0, length: length, "the format 4 subtable")
        let segCountX2 = Int(try subtable.u16(6, "the format 4 segment count"))
        guard segCountX2 % 2 == 0 else {
            throw EmojiFontError(.malformed, table: "cmap", "format 4 segCountX2 \(segCountX2) is odd")
        }
        let endCodes = 14
        let startCodes = endCodes + segCountX2 + 2
        let idDeltas = startCodes + segCountX2
        let idRangeOffsets = idDeltas + segCountX2
        try subtable.check(endCodes, 4 * segCountX2 + 2, "the format 4 segment arrays")
        var map: [UInt32: UInt16] = [:]
        var previousEnd = -1
        for segment in 0..<(segCountX2 / 2) {
            let end = Int(try subtable.u16(endCodes + 2 * segment))
            let start = Int(try subtable.u16(startCodes + 2 * segment))
            // Sorted, disjoint segments (as the spec requires) bound the work to 65,536 code points.
            guard start > previousEnd || start > end else {
                throw EmojiFontError(.malformed, table: "cmap", "format 4 segment \(segment) overlaps or is unsorted")
            }
            previousEnd = max(previousEnd, end)
            let delta = try subtable.u16(idDeltas + 2 * segment)
            let rangeOffsetPosition = idRangeOffsets + 2 * segment
            let rangeOffset = Int(try subtable.u16(rangeOffsetPosition))
            guard start <= end else { continue }
            for code in start...end where code != 0xFFFF {
                let glyph: UInt16
                if rangeOffset == 0 {
                    glyph = UInt16(truncatingIfNeeded: code) &+ delta
                } else {
                    // The spec's pointer trick: the glyph index lives rangeOffset
                    // bytes after this idRangeOffset entry, indexed by code - start.
                    let position = rangeOffsetPosition + rangeOffset + 2 * (code - start)
                    let raw = try subtable.u16(position, "the glyph index of U+\(String(code, radix: 16, uppercase: true))")
                    glyph = raw == 0 ? 0 : raw &+ delta
                }
                if glyph != 0 { map[UInt32(code)] = glyph }
            }
        }
        return map
    }
}
