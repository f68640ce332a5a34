/// A regular-file member of a tar archive: its name and where its bytes are.
struct TarMember: Equatable {
    /// The member's path inside the archive (GNU long names and pax `path`
    /// applied, a leading `./` removed).
    var name: String
    /// Offset of the member's data in the archive file.
    var dataOffset: Int
    /// Length of the member's data.
    var size: Int
}

/// The regular-file members of a tar archive, and the problem that stopped
/// the listing early (bad checksum, truncation), if any: members before the
/// problem are complete and usable.
struct TarListing {
    var members: [TarMember]
    var problem: DatasetError?
}

/// A bounds-checked reader for the tar format (POSIX ustar, with GNU long
/// names `L` and pax extended headers `x` for `path` and `size`). Only the
/// 512-byte headers are read, with positioned reads; member data stays on
/// disk and is described by offset and length. Every header's checksum is
/// verified and every size is checked against the file's length before use.
enum TarArchive {
    static let blockSize = 512
    /// Largest GNU long-name or pax header accepted (hostile-input cap).
    static let maxMetadataSize = 1 << 20

    /// Lists `path`; throws only if the file cannot be opened or read.
    static func list(path: String) throws(DatasetError) -> TarListing {
        let file = try OpenFile(path: path)
        defer { file.close() }
        let fileSize = try file.size()
        var members: [TarMember] = []
        var header = [UInt8](repeating: 0, count: blockSize)
        var offset = 0
        var longName: String?
        var paxPath: String?
        var paxSize: Int?

        func problem(_ where_: String, _ reason: String) -> TarListing {
            TarListing(members: members, problem: .corruptShard(location: "\(path):\(where_)", reason: reason))
        }

        while offset < fileSize {
            let got = try file.read(into: &header, at: offset)
            if got < blockSize {
                return problem("offset \(offset)",
                               "truncated: the file ends inside a tar header (\(got) of \(blockSize) bytes)")
            }
            if header.allSatisfy({ $0 == 0 }) { break }  // end-of-archive marker
            guard let stored = parseNumber(header[148..<156]), checksums(header).contains(stored) else {
                return problem("offset \(offset)",
                               "bad tar header checksum at byte \(offset) (not a tar file, or damaged there)")
            }
            let typeflag = header[156]
            guard var size = parseNumber(header[124..<136]) else {
                return problem("offset \(offset)", "invalid size field in the tar header at byte \(offset)")
            }
            var name = longName ?? paxPath ?? ustarName(header)
            if typeflag != UInt8(ascii: "L") && typeflag != UInt8(ascii: "x") && typeflag != UInt8(ascii: "K")
                && typeflag != UInt8(ascii: "g"), let paxSize {
                size = paxSize
            }
            while name.hasPrefix("./") { name.removeFirst(2) }
            let dataOffset = offset + blockSize
            guard size <= fileSize - dataOffset else {
                return problem(name.isEmpty ? "offset \(offset)" : name,
                               "truncated: member \(name) declares \(size) bytes but the file ends "
                                   + "\(fileSize - dataOffset) bytes after its header")
            }
            switch typeflag {
            case UInt8(ascii: "L"), UInt8(ascii: "x"):
                guard size <= maxMetadataSize else {
                    return problem("offset \(offset)", "tar metadata entry of \(size) bytes exceeds the \(maxMetadataSize)-byte limit")
                }
                guard let data = try file.bytes(at: dataOffset, count: size) else {
                    return problem("offset \(offset)", "truncated inside a tar metadata entry")
                }
                if typeflag == UInt8(ascii: "L") {
                    longName = cString(data[...])
                } else {
                    guard let fields = parsePax(data) else {
                        return problem("offset \(offset)", "malformed pax extended header at byte \(offset)")
                    }
                    if let path = fields["path"] { paxPath = path }
                    if let text = fields["size"] {
                        guard let value = Int(text), value >= 0 else {
                            return problem("offset \(offset)", "pax size \"\(text)\" is not a byte count")
                        }
                        paxSize = value
                    }
                }
            case UInt8(ascii: "g"), UInt8(ascii: "K"):
                break  // global pax header, GNU long link name: nothing a dataset needs
            default:
                if typeflag == UInt8(ascii: "0") || typeflag == 0 || typeflag == UInt8(ascii: "7") {
                    members.append(TarMember(name: name, dataOffset: dataOffset, size: size))
                }
                longName = nil
                paxPath = nil
                paxSize = nil
            }
            // Data is padded to whole blocks; a missing final pad is tolerated.
            let padded = (size + blockSize - 1) / blockSize * blockSize
            offset = dataOffset + min(padded, fileSize - dataOffset)
        }
        return TarListing(members: members, problem: nil)
    }

    /// The two checksums writers have used: the sum of the header's bytes as
    /// unsigned (POSIX) and as signed (old Sun tar), the checksum field counted as spaces.
    static func checksums(_ header: [UInt8]) -> [Int] {
        var unsigned = 0, signed = 0
        for (i, byte) in header.enumerated() {
            let value = (148..<156).contains(i) ? 0x20 : byte
            unsigned += Int(value)
            signed += Int(Int8(bitPattern: value))
        }
        return [unsigned, signed]
    }

    /// A numeric header field: octal digits (leading spaces or zeros, ended
    /// by NUL or space), or GNU base-256 when the first byte's top bit is set.
    /// Nil when malformed, negative or too large.
    static func parseNumber(_ field: ArraySlice<UInt8>) -> Int? {
        guard let first = field.first else { return nil }
        if first & 0x80 != 0 {
            guard first == 0x80 else { return nil }  // 0xFF marks a negative number
            var value = 0
            for byte in field.dropFirst() {
                guard value <= (Int.max >> 8) else { return nil }
                value = value << 8 | Int(byte)
            }
            return value
        }
        var value = 0
        var digits = 0
        var index = field.startIndex
        while index < field.endIndex && (field[index] == 0x20 || (field[index] == 0 && digits == 0)) {
            if field[index] == 0 { return 0 }  // an all-NUL field reads as zero
            index += 1
        }
        while index < field.endIndex {
            let byte = field[index]
            if byte == 0 || byte == 0x20 { break }
            guard byte >= 0x30 && byte <= 0x37, value <= (Int.max >> 3) else { return nil }
            value = value << 3 | Int(byte - 0x30)
            digits += 1
            index += 1
        }
        return value
    }

    /// The member name of a header: `prefix/name` for POSIX ustar, `name` otherwise.
    static func ustarName(_ header: [UInt8]) -> String {
        let name = cString(header[0..<100])
        let posixMagic: [UInt8] = [0x75, 0x73, 0x74, 0x61, 0x72, 0x00]  // "ustar\0"
        if Array(header[257..<263]) == posixMagic {
            let prefix = cString(header[345..<500])
            if !prefix.isEmpty { return prefix + "/" + name }
        }
        return name
    }

    /// Bytes up to the first NUL, as UTF-8 (invalid sequences replaced).
    static func cString(_ bytes: ArraySlice<UInt8>) -> String {
        let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
        return String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)
    }

    /// The records of a pax extended header (`LENGTH key=value\n`, LENGTH
    /// counting the whole record), or nil if malformed.
    static func parsePax(_ data: [UInt8]) -> [String: String]? {
        var fields: [String: String] = [:]
        var position = 0
        while position < data.count {
            if data[position] == 0 { break }  // NUL padding
            var length = 0
            var cursor = position
            while cursor < data.count && data[cursor] >= 0x30 && data[cursor] <= 0x39 {
                guard length < data.count else { return nil }
                length = length * 10 + Int(data[cursor] - 0x30)
                cursor += 1
            }
            guard cursor < data.count, data[cursor] == 0x20, length > cursor - position + 1,
                  length <= data.count - position, data[position + length - 1] == 0x0A else { return nil }
            let record = data[(cursor + 1)..<(position + length - 1)]
            guard let equals = record.firstIndex(of: 0x3D) else { return nil }
            let key = String(decoding: record[record.startIndex..<equals], as: UTF8.self)
            let value = String(decoding: record[(equals + 1)...], as: UTF8.self)
            fields[key] = value
            position += length
        }
        return fields
    }
}
