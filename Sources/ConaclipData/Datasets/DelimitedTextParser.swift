import Foundation

/// One row of a CSV/TSV file: its fields, or why it could not be read, and
/// the line it starts on (quoted fields may span lines).
struct DelimitedRow {
    var line: Int
    var fields: [String]
    /// Set when the row is malformed; `fields` is then empty.
    var problem: String?
}

/// A small RFC 4180 reader for OpenCLIP's manifests (the format pandas'
/// `read_csv` reads with its defaults): fields separated by `delimiter`,
/// optionally enclosed in double quotes, `""` for a quote inside a quoted
/// field, quoted fields may hold delimiters and line breaks, rows end with
/// LF or CRLF, blank lines are skipped, a UTF-8 BOM is dropped. A quote
/// inside an unquoted field is kept literally (as pandas does).
///
/// Hand-written rather than SwiftCSV because this one format is all the
/// readers need, errors must name the row's line, a malformed row must not
/// lose the rows after it (recovery at the next line break), and the package
/// avoids a dependency for ~150 lines.
struct DelimitedTextParser {
    private let bytes: [UInt8]
    private let delimiter: UInt8
    private var position: Int
    private var line = 1

    init(bytes: [UInt8], delimiter: UInt8) {
        self.bytes = bytes
        self.delimiter = delimiter
        self.position = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
    }

    private static let quote: UInt8 = 0x22
    private static let lf: UInt8 = 0x0A
    private static let cr: UInt8 = 0x0D

    /// The next non-blank row, or nil at the end of the data.
    mutating func next() -> DelimitedRow? {
        while position < bytes.count {
            let start = line
            let rowStart = position
            // A blank line (only a line break) is skipped.
            if bytes[position] == Self.lf {
                position += 1; line += 1; continue
            }
            if bytes[position] == Self.cr && position + 1 < bytes.count && bytes[position + 1] == Self.lf {
                position += 2; line += 1; continue
            }
            var fields: [String] = []
            var field: [UInt8] = []
            var problem: String?
            rowLoop: while true {
                // Start of a field.
                field.removeAll(keepingCapacity: true)
                var quoted = false
                if position < bytes.count && bytes[position] == Self.quote {
                    quoted = true
                    position += 1
                    var closed = false
                    while position < bytes.count {
                        let byte = bytes[position]
                        if byte == Self.quote {
                            if position + 1 < bytes.count && bytes[position + 1] == Self.quote {
                                field.append(Self.quote); position += 2; continue
                            }
                            position += 1; closed = true; break
                        }
                        if byte == Self.lf { line += 1 }
                        field.append(byte)
                        position += 1
                    }
                    if !closed {
                        // Resume on the line after the row's first line, so one
                        // stray quote costs one row, not the rest of the file.
                        position = rowStart
                        line = start
                        skipToNextLine()
                        return DelimitedRow(line: start, fields: [],
                                            problem: "a quoted field opened on this line is never closed")
                    }
                }
                // After a quoted field only a delimiter or a row end may follow;
                // an unquoted field runs to the next delimiter or row end.
                while position < bytes.count {
                    let byte = bytes[position]
                    if byte == delimiter || byte == Self.lf { break }
                    if byte == Self.cr && position + 1 < bytes.count && bytes[position + 1] == Self.lf { break }
                    if quoted {
                        problem = "unexpected character after a closing quote (double the quote inside a quoted field: \"\")"
                        break rowLoop
                    }
                    field.append(byte)
                    position += 1
                }
                guard let text = String(bytes: field, encoding: .utf8) else {
                    problem = "field \(fields.count + 1) is not valid UTF-8"
                    break rowLoop
                }
                fields.append(text)
                if position >= bytes.count { break rowLoop }
                let byte = bytes[position]
                if byte == delimiter { position += 1; continue rowLoop }
                // Row end (LF or CRLF).
                position += byte == Self.cr ? 2 : 1
                line += 1
                break rowLoop
            }
            if let problem {
                skipToNextLine()
                return DelimitedRow(line: start, fields: [], problem: problem)
            }
            return DelimitedRow(line: start, fields: fields, problem: nil)
        }
        return nil
    }

    /// Recovery after a malformed row: continue after the next line break.
    private mutating func skipToNextLine() {
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if byte == Self.lf { line += 1; return }
        }
    }
}
