/// The text clean-up and Unicode character classes of Hugging Face's CLIP
/// tokenizer (transformers 5, backed by the Rust `tokenizers` library):
/// NFC, every run of whitespace replaced by one space, then lower-casing one
/// scalar at a time; and the `\s`, `\p{L}`, `\p{N}` classes its Oniguruma
/// regular expressions use.
///
/// The classes are checked against Oniguruma for every code point: `\s` is
/// Unicode `White_Space`, and `\p{L}` / `\p{N}` are the general categories as
/// of Unicode 16.0 (the tables `tokenizers` 0.23 ships), so letters and digits
/// first assigned in a newer Unicode version count as neither here, exactly as
/// in Hugging Face. Lower-casing matches Rust's `char::to_lowercase` for every
/// code point (no context-dependent rules such as final sigma).
public enum TextNormalization {
    /// The Unicode version of Hugging Face's regex tables.
    public static let unicodeVersion = (major: 16, minor: 0)

    /// Unicode `White_Space` (Oniguruma's `\s`).
    @inline(__always)
    public static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x80 {
            return scalar.value == 0x20 || (0x09...0x0D).contains(scalar.value)
        }
        return scalar.properties.isWhitespace
    }

    /// `\p{L}`: general category Lu, Ll, Lt, Lm or Lo, assigned by Unicode 16.0.
    @inline(__always)
    public static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x80 { return (v >= 0x61 && v <= 0x7A) || (v >= 0x41 && v <= 0x5A) }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return isAssignedInReferenceVersion(scalar)
        default:
            return false
        }
    }

    /// `\p{N}`: general category Nd, Nl or No, assigned by Unicode 16.0.
    @inline(__always)
    public static func isNumber(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x80 { return v >= 0x30 && v <= 0x39 }
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber:
            return isAssignedInReferenceVersion(scalar)
        default:
            return false
        }
    }

    /// Whether the scalar was assigned by Unicode 16.0 (Hugging Face's tables).
    static func isAssignedInReferenceVersion(_ scalar: Unicode.Scalar) -> Bool {
        guard let age = scalar.properties.age else { return false }
        return (age.major, age.minor) <= unicodeVersion
    }

    /// Python's `str.isspace()` (used by `strip()` when decoding): `White_Space`
    /// plus the information separators U+001C...U+001F.
    public static func isPythonWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        isWhitespace(scalar) || (0x1C...0x1F).contains(scalar.value)
    }

    /// Canonical composition (NFC) as `tokenizers` computes it, by the standard
    /// library's normaliser (the one `String` hashing uses). Foundation's
    /// `precomposedStringWithCanonicalMapping` is not used: on Linux it fails to
    /// compose a Hangul LV syllable with a trailing jamo (U+C2A4 U+11A8 should
    /// become U+C2A5). One difference is reproduced on purpose: the Rust
    /// `unicode-normalization` crate never composes U+11935 U+11930 into
    /// U+11938 (DIVES AKURU VOWEL SIGN O), so text is normalised in pieces cut
    /// before each U+11930, a starter that composes with nothing else. Checked
    /// against `tokenizers` on every code point, its canonical decomposition,
    /// all Hangul L+V and LV+T pairs and 30,000 random mark sequences.
    /// Text made only of scalars below U+0300 is already NFC (nothing there
    /// decomposes or composes), which skips the work for ASCII and Latin captions.
    public static func nfc(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        if scalars.allSatisfy({ $0.value < 0x300 }) { return scalars }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(scalars.count)
        var start = 0
        for i in 1...scalars.count where i == scalars.count || scalars[i].value == 0x11930 {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[start..<i])
            out.append(contentsOf: String(decoding: String(view)._nfcCodeUnits, as: UTF8.self).unicodeScalars)
            start = i
        }
        return out
    }

    /// Hugging Face CLIP's normalizer: NFC, `\s+` -> one space, lower-case.
    public static func normalize(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        let composed = nfc(scalars)
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(composed.count)
        var inSpace = false
        for scalar in composed {
            if isWhitespace(scalar) {
                if !inSpace { out.append(" ") }
                inSpace = true
                continue
            }
            inSpace = false
            appendLowercased(scalar, to: &out)
        }
        return out
    }

    /// Appends the full lower-case mapping of one scalar.
    @inline(__always)
    static func appendLowercased(_ scalar: Unicode.Scalar, to out: inout [Unicode.Scalar]) {
        let v = scalar.value
        if v < 0x80 {
            out.append(v >= 0x41 && v <= 0x5A ? Unicode.Scalar(UInt8(v + 0x20)) : scalar)
            return
        }
        let properties = scalar.properties
        if properties.changesWhenLowercased {
            out.append(contentsOf: properties.lowercaseMapping.unicodeScalars)
        } else {
            out.append(scalar)
        }
    }
}
