import Foundation

/// Why a font file could not be read. Every offset and length in a font is
/// checked before use, so a truncated or hostile file ends here instead of
/// crashing; `table` names the table (or "file") and `detail` says what was
/// wrong and where.
public struct EmojiFontError: Error, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: String, Sendable, Equatable {
        /// The file could not be read at all.
        case unreadable
        /// An offset or length points outside the file or its table.
        case outOfBounds
        /// A field holds a value the format does not allow.
        case malformed
        /// Valid, but a format or version this reader does not handle.
        case unsupported
        /// A required table is not in the font.
        case missingTable
        /// The glyph has no entry (no code point mapping or no bitmap).
        case missingGlyph
    }

    public var kind: Kind
    /// The table tag ("cmap", "GSUB", "CBLC", "CBDT", ...) or "file".
    public var table: String
    public var detail: String

    public init(_ kind: Kind, table: String, _ detail: String) {
        self.kind = kind
        self.table = table
        self.detail = detail
    }

    public var description: String { "font \(table): \(kind.rawValue): \(detail)" }
}

/// A bounds-checked, big-endian view of part of a font file: offsets are
/// relative to the start of the view and every read checks that it lies
/// inside the view, so malformed offsets throw instead of trapping.
struct FontSlice: Sendable {
    /// The whole file (shared storage; slicing does not copy).
    let bytes: [UInt8]
    /// Start of this view in `bytes`.
    let base: Int
    /// Length of this view.
    let count: Int
    /// Table tag used in error messages.
    let table: String

    init(bytes: [UInt8], table: String) {
        self.bytes = bytes
        self.base = 0
        self.count = bytes.count
        self.table = table
    }

    private init(bytes: [UInt8], base: Int, count: Int, table: String) {
        self.bytes = bytes
        self.base = base
        self.count = count
        self.table = table
    }

    /// Throws unless `length` bytes starting at `offset` lie inside the view.
    func check(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String) throws(EmojiFontError) {
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else {
            throw EmojiFontError(.outOfBounds, table: table,
                                 "\(what()) needs \(length) bytes at offset \(offset), but the \(table) data has \(count)")
        }
    }

    func u8(_ offset: Int, _ what: @autoclosure () -> String = "a byte") throws(EmojiFontError) -> UInt8 {
        try check(offset, 1, what())
        return bytes[base + offset]
    }

    func u16(_ offset: Int, _ what: @autoclosure () -> String = "a 16-bit field") throws(EmojiFontError) -> UInt16 {
        try check(offset, 2, what())
        let i = base + offset
        return UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])
    }

    func i16(_ offset: Int, _ what: @autoclosure () -> String = "a 16-bit field") throws(EmojiFontError) -> Int16 {
        Int16(bitPattern: try u16(offset, what()))
    }

    func u32(_ offset: Int, _ what: @autoclosure () -> String = "a 32-bit field") throws(EmojiFontError) -> UInt32 {
        try check(offset, 4, what())
        let i = base + offset
        return UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
    }

    /// A four-character tag, with non-printable bytes shown as "?".
    func tag(_ offset: Int) throws(EmojiFontError) -> String {
        try check(offset, 4, "a tag")
        let scalars = bytes[(base + offset)..<(base + offset + 4)].map { byte -> Character in
            (0x20...0x7E).contains(byte) ? Character(Unicode.Scalar(byte)) : "?"
        }
        return String(scalars)
    }

    /// The sub-view of `length` bytes at `offset` (to the end when nil).
    func slice(_ offset: Int, length: Int? = nil, _ what: @autoclosure () -> String = "a subtable") throws(EmojiFontError) -> FontSlice {
        let size = length ?? (count - offset)
        try check(offset, size, what())
        return FontSlice(bytes: bytes, base: base + offset, count: size, table: table)
    }

    /// The raw bytes of `length` bytes at `offset`.
    func data(_ offset: Int, length: Int, _ what: @autoclosure () -> String) throws(EmojiFontError) -> [UInt8] {
        try check(offset, length, what())
        return Array(bytes[(base + offset)..<(base + offset + length)])
    }
}

/// An OpenType / TrueType font file held in memory with its table directory
/// parsed. Tables are handed out as bounds-checked views; nothing else is
/// interpreted here (see `CmapTable`, `GSUBLigatures` and `CBDTGlyphs`).
public struct OpenTypeFont: Sendable {
    /// One entry of the table directory.
    public struct TableRecord: Sendable, Equatable {
        public var tag: String
        public var offset: Int
        public var length: Int
    }

    /// The whole file.
    public let bytes: [UInt8]
    /// The sfnt version tag: 0x00010000 (TrueType outlines or bitmaps only) or 'OTTO'.
    public let sfntVersion: UInt32
    /// The table directory, keyed by tag.
    public let tables: [String: TableRecord]

    /// Reads the font at `path`.
    public init(contentsOfFile path: String) throws(EmojiFontError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EmojiFontError(.unreadable, table: "file", "cannot read \(path)")
        }
        try self.init(bytes: [UInt8](data))
    }

    /// Parses the table directory of the font bytes.
    public init(bytes: [UInt8]) throws(EmojiFontError) {
        let file = FontSlice(bytes: bytes, table: "file")
        let version = try file.u32(0, "the sfnt version")
        switch version {
        case 0x0001_0000, 0x7472_7565 /* 'true' */, 0x4F54_544F /* 'OTTO' */:
            break
        case 0x7474_6366 /* 'ttcf' */:
            throw EmojiFontError(.unsupported, table: "file", "font collections (.ttc) are not supported; give a single font")
        default:
            throw EmojiFontError(.malformed, table: "file",
                                 "not an OpenType font (sfnt version 0x\(String(version, radix: 16)))")
        }
        let numTables = Int(try file.u16(4, "the table count"))
        try file.check(12, numTables * 16, "the table directory of \(numTables) tables")
        var tables: [String: TableRecord] = [:]
        for index in 0..<numTables {
            let record = 12 + index * 16
            let tag = try file.tag(record)
            let offset = Int(try file.u32(record + 8))
            let length = Int(try file.u32(record + 12))
            try file.check(offset, length, "table '\(tag)'")
            tables[tag] = TableRecord(tag: tag, offset: offset, length: length)
        }
        self.bytes = bytes
        self.sfntVersion = version
        self.tables = tables
    }

    /// The bounds-checked view of table `tag`, or a `.missingTable` error.
    func table(_ tag: String) throws(EmojiFontError) -> FontSlice {
        guard let record = tables[tag] else {
            throw EmojiFontError(.missingTable, table: tag,
                                 "the font has no '\(tag)' table (tables: \(tables.keys.sorted().joined(separator: ", ")))")
        }
        return try FontSlice(bytes: bytes, table: tag).slice(record.offset, length: record.length, "table '\(tag)'")
    }
}
