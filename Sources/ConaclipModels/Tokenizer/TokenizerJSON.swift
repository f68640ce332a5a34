import Foundation

/// A small JSON reader and writer for tokenizer files. It keeps object
/// members in file order with their byte offsets (so errors can name a line),
/// compares keys byte for byte (Swift `String` equality is canonical
/// equivalence, which a vocabulary must not rely on), and writes
/// deterministic output.
enum TokenizerJSON: Sendable {
    case null
    case bool(Bool)
    /// The number exactly as written in the file.
    case number(String)
    case string(String)
    case array([TokenizerJSON])
    case object([Member])

    /// One `"key": value` pair and the byte offset of its key in the file.
    struct Member: Sendable {
        var key: String
        var value: TokenizerJSON
        var offset: Int
    }

    /// The value of `key` in an object (the last one if the key repeats, as
    /// Python's `json` and serde do), or nil.
    subscript(key: String) -> TokenizerJSON? {
        guard case .object(let members) = self else { return nil }
        let keyBytes = Array(key.utf8)
        return members.last(where: { Array($0.key.utf8) == keyBytes })?.value
    }

    /// True if the object has `key`, even with a null value.
    func has(_ key: String) -> Bool {
        guard case .object(let members) = self else { return false }
        let keyBytes = Array(key.utf8)
        return members.contains(where: { Array($0.key.utf8) == keyBytes })
    }

    var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    var isNull: Bool { if case .null = self { return true }; return false }

    /// The number as an integer, if it is written as one (no fraction or exponent).
    var integerValue: Int? {
        guard case .number(let text) = self else { return nil }
        return Int(text)
    }

    // MARK: Reading

    /// Parses a whole file. `file` names it in errors.
    static func parse(_ bytes: [UInt8], file: String) throws(TokenizerError) -> TokenizerJSON {
        try validateUTF8(bytes, file: file)
        var parser = Parser(bytes: bytes, file: file)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.index != bytes.count {
            throw parser.error("unexpected characters after the top-level value")
        }
        return value
    }

    /// Line number (1-based) of a byte offset.
    static func line(of offset: Int, in bytes: [UInt8]) -> Int {
        var line = 1
        for i in 0..<min(offset, bytes.count) where bytes[i] == UInt8(ascii: "\n") { line += 1 }
        return line
    }

    /// Throws `invalidUTF8` naming the first bad line.
    static func validateUTF8(_ bytes: [UInt8], file: String) throws(TokenizerError) {
        var iterator = bytes.makeIterator()
        var decoder = Unicode.UTF8()
        var consumed = 0
        var bad: Int?
        decoding: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): consumed += UTF8.width(scalar)
            case .emptyInput: break decoding
            case .error: bad = consumed; break decoding
            }
        }
        if let bad { throw .invalidUTF8(file: file, line: line(of: bad, in: bytes)) }
    }

    private struct Parser {
        let bytes: [UInt8]
        let file: String
        var index = 0
        static let maxDepth = 256

        init(bytes: [UInt8], file: String) { self.bytes = bytes; self.file = file }

        func error(_ reason: String) -> TokenizerError {
            .malformedJSON(file: file, line: TokenizerJSON.line(of: index, in: bytes), reason: reason)
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func expect(_ literal: String) throws(TokenizerError) {
            for byte in literal.utf8 {
                guard index < bytes.count, bytes[index] == byte else { throw error("expected \(literal)") }
                index += 1
            }
        }

        mutating func parseValue(depth: Int) throws(TokenizerError) -> TokenizerJSON {
            guard depth < Parser.maxDepth else { throw error("nested deeper than \(Parser.maxDepth) levels") }
            guard index < bytes.count else { throw error("unexpected end of file") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try parseObject(depth: depth)
            case UInt8(ascii: "["): return try parseArray(depth: depth)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
            default: throw error("unexpected character \(String(reflecting: String(decoding: [bytes[index]], as: UTF8.self)))")
            }
        }

        mutating func parseObject(depth: Int) throws(TokenizerError) -> TokenizerJSON {
            index += 1
            var members: [Member] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let offset = index
                let key = try parseString()
                skipWhitespace()
                try expect(":")
                skipWhitespace()
                let value = try parseValue(depth: depth + 1)
                members.append(Member(key: key, value: value, offset: offset))
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of file inside an object") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
                throw error("expected , or } in an object")
            }
        }

        mutating func parseArray(depth: Int) throws(TokenizerError) -> TokenizerJSON {
            index += 1
            var elements: [TokenizerJSON] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
            while true {
                skipWhitespace()
                elements.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of file inside an array") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
                throw error("expected , or ] in an array")
            }
        }

        mutating func parseNumber() throws(TokenizerError) -> TokenizerJSON {
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("malformed number") }
            if bytes[index] == UInt8(ascii: "0") { index += 1 } else { while index < bytes.count, isDigit(bytes[index]) { index += 1 } }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard index < bytes.count, isDigit(bytes[index]) else { throw error("malformed number") }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard index < bytes.count, isDigit(bytes[index]) else { throw error("malformed number") }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            return .number(String(decoding: bytes[start..<index], as: UTF8.self))
        }

        mutating func parseHex4() throws(TokenizerError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw error("truncated \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[index]
                let digit: UInt32
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
                default: throw error("bad hex digit in \\u escape")
                }
                value = value * 16 + digit
                index += 1
            }
            return value
        }

        mutating func parseString() throws(TokenizerError) -> String {
            index += 1  // opening quote
            var out: [UInt8] = []
            while true {
                guard index < bytes.count else { throw error("unterminated string") }
                let b = bytes[index]
                if b == UInt8(ascii: "\"") { index += 1; break }
                if b < 0x20 { throw error("control character inside a string") }
                if b != UInt8(ascii: "\\") { out.append(b); index += 1; continue }
                index += 1
                guard index < bytes.count else { throw error("unterminated escape") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard index + 2 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                        else { throw error("lone surrogate in \\u escape") }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("lone surrogate in \\u escape") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(code) {
                        throw error("lone surrogate in \\u escape")
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw error("unknown escape \\\(String(decoding: [e], as: UTF8.self))")
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    // MARK: Writing

    /// `s` as a JSON string literal (like Python's `json.dumps(..., ensure_ascii=False)`).
    static func quoted(_ s: String) -> String { JSONStringLiteral.quoted(s) }
}
