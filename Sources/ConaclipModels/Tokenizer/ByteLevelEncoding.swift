/// GPT-2 / CLIP byte-level encoding: every byte 0...255 is shown as one
/// printable Unicode scalar, so a BPE vocabulary over bytes can be stored as
/// text. Printable Latin-1 bytes stand for themselves; the other 68 bytes
/// (controls, space, DEL, NBSP, soft hyphen) map to U+0100 upward in byte
/// order. This is `bytes_to_unicode()` from OpenAI's CLIP and Hugging Face.
public enum ByteLevelEncoding {
    /// Bytes in the order CLIP's vocabulary lists them: the printable ranges
    /// `!`...`~`, `¡`...`¬`, `®`...`ÿ`, then the remaining bytes ascending.
    public static let vocabularyOrder: [UInt8] = {
        var order: [UInt8] = []
        order += (0x21...0x7E).map { UInt8($0) }
        order += (0xA1...0xAC).map { UInt8($0) }
        order += (0xAE...0xFF).map { UInt8($0) }
        let printable = Set(order)
        order += (0...255).map { UInt8($0) }.filter { !printable.contains($0) }
        return order
    }()

    /// The scalar that stands for each byte, indexed by byte value.
    public static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\u{0}", count: 256)
        var next: UInt32 = 0x100
        for byte in vocabularyOrder {
            if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
                table[Int(byte)] = Unicode.Scalar(byte)
            } else {
                // Non-printable bytes are listed in ascending order, so they take
                // consecutive scalars from U+0100.
                table[Int(byte)] = Unicode.Scalar(next) ?? "\u{0}"
                next += 1
            }
        }
        return table
    }()

    /// The byte each byte-level scalar stands for (the inverse of `scalarForByte`).
    public static let byteForScalar: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for byte in 0...255 { map[scalarForByte[byte].value] = UInt8(byte) }
        return map
    }()

    /// The byte-level string for some bytes (one scalar per byte).
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out = String.UnicodeScalarView()
        for byte in bytes { out.append(scalarForByte[Int(byte)]) }
        return String(out)
    }

    /// The bytes a byte-level token stands for, or nil if some scalar of it is
    /// not a byte-level symbol (Hugging Face then uses the token's own UTF-8).
    public static func decode(_ token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            guard let byte = byteForScalar[scalar.value] else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    /// Appends the UTF-8 encoding of one scalar.
    @inline(__always)
    public static func appendUTF8(_ scalar: Unicode.Scalar, to bytes: inout [UInt8]) {
        let v = scalar.value
        if v < 0x80 {
            bytes.append(UInt8(v))
        } else if v < 0x800 {
            bytes.append(UInt8(0xC0 | (v >> 6)))
            bytes.append(UInt8(0x80 | (v & 0x3F)))
        } else if v < 0x10000 {
            bytes.append(UInt8(0xE0 | (v >> 12)))
            bytes.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            bytes.append(UInt8(0x80 | (v & 0x3F)))
        } else {
            bytes.append(UInt8(0xF0 | (v >> 18)))
            bytes.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            bytes.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            bytes.append(UInt8(0x80 | (v & 0x3F)))
        }
    }
}
