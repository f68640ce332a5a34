/// CLDR emoji annotations for one language: search keywords and the
/// text-to-speech name of each emoji, read from CLDR's `annotations/LANG.xml`
/// (single emoji, keyed without U+FE0F) and `annotationsDerived/LANG.xml`
/// (sequences: skin tones, ZWJ sequences, flags, keycaps). Debian package
/// unicode-cldr-core installs them under /usr/share/unicode/cldr/common/.
///
/// The XML is read by a small scanner that understands exactly what these
/// files use: `<annotation cp="..." [type="tts"] [draft="..."]>text</annotation>`
/// elements, comments, and the five XML entities plus numeric character
/// references. Everything else is skipped.
public struct CLDRAnnotations: Sendable, Equatable {
    /// What CLDR says about one emoji.
    public struct Annotation: Sendable, Equatable {
        /// Search keywords, in the file's order ("a | b | c").
        public var keywords: [String]
        /// The text-to-speech name (the `type="tts"` entry), when given.
        public var tts: String?

        public init(keywords: [String] = [], tts: String? = nil) {
            self.keywords = keywords
            self.tts = tts
        }
    }

    /// Annotations keyed by the code points of the `cp` attribute.
    public private(set) var entries: [[UInt32]: Annotation] = [:]

    public init() {}

    /// Parses the bytes of one annotation file; `file` names it in errors.
    public init(xml: [UInt8], file: String) throws(EmojiDataError) {
        var scanner = XMLAnnotationScanner(bytes: xml, file: file)
        while let element = try scanner.nextAnnotation() {
            guard let cp = element.attributes["cp"] else {
                throw EmojiDataError.malformedXML(file: file, detail: "an <annotation> without a cp attribute")
            }
            let key = cp.unicodeScalars.map(\.value)
            var annotation = entries[key] ?? Annotation()
            if element.attributes["type"] == "tts" {
                annotation.tts = element.text.trimmingWhitespace()
            } else {
                annotation.keywords = element.text.split(separator: "|").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
            }
            entries[key] = annotation
        }
    }

    /// Fills what this set lacks from `other` (field by field): this set's
    /// keywords and names win where both have them.
    public mutating func merge(_ other: CLDRAnnotations) {
        for (key, theirs) in other.entries {
            var mine = entries[key] ?? Annotation()
            if mine.keywords.isEmpty { mine.keywords = theirs.keywords }
            if mine.tts == nil { mine.tts = theirs.tts }
            entries[key] = mine
        }
    }

    /// The annotation of `codePoints` as written, else with U+FE0F removed
    /// (CLDR keys single emoji without it), else nil.
    public func lookup(_ codePoints: [UInt32]) -> Annotation? {
        if let found = entries[codePoints] { return found }
        let stripped = codePoints.filter { $0 != EmojiFont.variationSelector16 }
        if stripped != codePoints, let found = entries[stripped] { return found }
        return nil
    }
}

/// Finds `<annotation>` elements in CLDR annotation XML, byte by byte.
struct XMLAnnotationScanner {
    struct Element {
        var attributes: [String: String]
        var text: String
    }

    let bytes: [UInt8]
    let file: String
    var position = 0

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    /// The next annotation element, or nil at the end of the file.
    mutating func nextAnnotation() throws(EmojiDataError) -> Element? {
        while let open = find("<", from: position) {
            if starts("<!--", at: open) {
                guard let end = find("-->", from: open + 4) else { throw error("an unterminated comment") }
                position = end + 3
                continue
            }
            let nameStart = open + 1
            var nameEnd = nameStart
            while nameEnd < bytes.count, !isSpace(bytes[nameEnd]), bytes[nameEnd] != UInt8(ascii: ">"),
                  bytes[nameEnd] != UInt8(ascii: "/") { nameEnd += 1 }
            let name = String(decoding: bytes[nameStart..<nameEnd], as: UTF8.self)
            guard name == "annotation" else {
                guard let close = find(">", from: open) else { throw error("an unterminated <\(name)> tag") }
                position = close + 1
                continue
            }
            var attributes: [String: String] = [:]
            var cursor = nameEnd
            while true {
                while cursor < bytes.count, isSpace(bytes[cursor]) { cursor += 1 }
                guard cursor < bytes.count else { throw error("an unterminated <annotation> tag") }
                if bytes[cursor] == UInt8(ascii: ">") { cursor += 1; break }
                if starts("/>", at: cursor) { throw error("an empty <annotation/> element") }
                let attributeStart = cursor
                while cursor < bytes.count, bytes[cursor] != UInt8(ascii: "="), !isSpace(bytes[cursor]) { cursor += 1 }
                let attributeName = String(decoding: bytes[attributeStart..<cursor], as: UTF8.self)
                while cursor < bytes.count, isSpace(bytes[cursor]) { cursor += 1 }
                guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: "=") else {
                    throw error("attribute '\(attributeName)' has no value")
                }
                cursor += 1
                while cursor < bytes.count, isSpace(bytes[cursor]) { cursor += 1 }
                guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: "\"") || bytes[cursor] == UInt8(ascii: "'") else {
                    throw error("attribute '\(attributeName)' is not quoted")
                }
                let quote = bytes[cursor]
                let valueStart = cursor + 1
                guard let valueEnd = bytes[valueStart...].firstIndex(of: quote) else {
                    throw error("attribute '\(attributeName)' is not closed")
                }
                attributes[attributeName] = try decodeEntities(bytes[valueStart..<valueEnd])
                cursor = valueEnd + 1
            }
            guard let close = find("</annotation>", from: cursor) else { throw error("an <annotation> without </annotation>") }
            let text = try decodeEntities(bytes[cursor..<close])
            position = close + "</annotation>".utf8.count
            return Element(attributes: attributes, text: text)
        }
        position = bytes.count
        return nil
    }

    private func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private func starts(_ literal: String, at index: Int) -> Bool {
        let utf8 = Array(literal.utf8)
        guard index >= 0, index + utf8.count <= bytes.count else { return false }
        return bytes[index..<(index + utf8.count)].elementsEqual(utf8)
    }

    private func find(_ literal: String, from start: Int) -> Int? {
        let utf8 = Array(literal.utf8)
        guard let first = utf8.first, start < bytes.count else { return nil }
        var index = start
        while let candidate = bytes[index...].firstIndex(of: first) {
            if starts(literal, at: candidate) { return candidate }
            index = candidate + 1
            if index >= bytes.count { return nil }
        }
        return nil
    }

    private func error(_ detail: String) -> EmojiDataError {
        let line = bytes[..<min(position, bytes.count)].reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
        return .malformedXML(file: file, detail: "\(detail) (after line \(line))")
    }

    /// Decodes UTF-8 text with `&amp;`-style entities and `&#...;` references.
    private func decodeEntities(_ raw: ArraySlice<UInt8>) throws(EmojiDataError) -> String {
        guard raw.contains(UInt8(ascii: "&")) else {
            return try utf8(raw)
        }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var index = raw.startIndex
        while index < raw.endIndex {
            let byte = raw[index]
            guard byte == UInt8(ascii: "&") else {
                out.append(byte)
                index += 1
                continue
            }
            guard let semicolon = raw[index...].firstIndex(of: UInt8(ascii: ";")), semicolon - index <= 12 else {
                throw error("an '&' that starts no entity")
            }
            let entity = String(decoding: raw[(index + 1)..<semicolon], as: UTF8.self)
            let scalar: Unicode.Scalar?
            switch entity {
            case "amp": scalar = "&"
            case "lt": scalar = "<"
            case "gt": scalar = ">"
            case "quot": scalar = "\""
            case "apos": scalar = "'"
            default:
                if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                    scalar = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
                } else if entity.hasPrefix("#") {
                    scalar = UInt32(entity.dropFirst(), radix: 10).flatMap(Unicode.Scalar.init)
                } else {
                    scalar = nil
                }
            }
            guard let scalar else { throw error("unknown entity '&\(entity);'") }
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
            index = semicolon + 1
        }
        return try utf8(out[...])
    }

    private func utf8(_ raw: ArraySlice<UInt8>) throws(EmojiDataError) -> String {
        guard let text = String(validating: raw, as: UTF8.self) else { throw error("text that is not UTF-8") }
        return text
    }
}
