import Foundation

/// One line of the emoji benchmark's manifest.jsonl: an emoji picture and
/// its captions, with the split it belongs to and why.
public struct EmojiManifestRecord: Sendable, Equatable {
    /// Code points in lower-case hex joined by "-", e.g. "1f44b-1f3fd".
    public var id: String
    public var codePoints: [UInt32]
    /// Relative path of the 64x64 RGB PNG (composited on white).
    public var image: String
    /// Relative path of the 32x32 RGB PNG.
    public var image32: String
    /// English name from emoji-test.txt, e.g. "waving hand: medium skin tone".
    public var caption: String
    /// Chinese CLDR text-to-speech name, when CLDR has one.
    public var captionZh: String?
    /// English CLDR text-to-speech name, when CLDR has one.
    public var captionCLDR: String?
    /// English CLDR keywords.
    public var keywords: [String]
    /// Chinese CLDR keywords.
    public var keywordsZh: [String]
    public var group: String
    public var subgroup: String
    public var split: EmojiSplitName
    public var heldOutReason: EmojiHoldoutReason?
    public var returnedToTrain: EmojiReturnReason?
    public var family: String
    /// Ids of the other emoji whose 64x64 PNG is byte-identical, sorted.
    public var sameImageAs: [String]
    /// Emoji version that introduced it, e.g. "E1.0".
    public var version: String
    /// The font glyph drawn, and whether U+FE0F had to be dropped to find it.
    public var glyph: Int
    public var glyphMatch: EmojiFont.Match

    public init(id: String, codePoints: [UInt32], image: String, image32: String, caption: String,
                captionZh: String?, captionCLDR: String?, keywords: [String], keywordsZh: [String],
                group: String, subgroup: String, split: EmojiSplitName, heldOutReason: EmojiHoldoutReason?,
                returnedToTrain: EmojiReturnReason?, family: String, sameImageAs: [String], version: String,
                glyph: Int, glyphMatch: EmojiFont.Match) {
        self.id = id
        self.codePoints = codePoints
        self.image = image
        self.image32 = image32
        self.caption = caption
        self.captionZh = captionZh
        self.captionCLDR = captionCLDR
        self.keywords = keywords
        self.keywordsZh = keywordsZh
        self.group = group
        self.subgroup = subgroup
        self.split = split
        self.heldOutReason = heldOutReason
        self.returnedToTrain = returnedToTrain
        self.family = family
        self.sameImageAs = sameImageAs
        self.version = version
        self.glyph = glyph
        self.glyphMatch = glyphMatch
    }

    /// The record as one JSON object with keys in a fixed order.
    public var json: OrderedJSON {
        .object([
            ("id", .string(id)),
            ("emoji", .string(EmojiTestFile.string(for: codePoints))),
            ("image", .string(image)),
            ("image_32", .string(image32)),
            ("caption", .string(caption)),
            ("caption_zh", captionZh.map(OrderedJSON.string) ?? .null),
            ("caption_cldr", captionCLDR.map(OrderedJSON.string) ?? .null),
            ("keywords", .array(keywords.map(OrderedJSON.string))),
            ("keywords_zh", .array(keywordsZh.map(OrderedJSON.string))),
            ("group", .string(group)),
            ("subgroup", .string(subgroup)),
            ("split", .string(split.rawValue)),
            ("held_out", heldOutReason.map { .string($0.rawValue) } ?? .null),
            ("returned_to_train", returnedToTrain.map { .string($0.rawValue) } ?? .null),
            ("family", .string(family)),
            ("same_image_as", .array(sameImageAs.map(OrderedJSON.string))),
            ("emoji_version", .string(version)),
            ("glyph", .int(glyph)),
            ("glyph_match", .string(glyphMatch.rawValue)),
        ])
    }
}

/// A JSON value whose objects keep their keys in the order given, written
/// without any locale, date or float formatting choices, so the same values
/// always give the same bytes.
public indirect enum OrderedJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    /// A number written with exactly `decimals` digits after the point.
    case fixed(Double, decimals: Int)
    case string(String)
    case array([OrderedJSON])
    case object([(String, OrderedJSON)])

    public static func == (lhs: OrderedJSON, rhs: OrderedJSON) -> Bool {
        lhs.serialized() == rhs.serialized()
    }

    /// The value as JSON text: one line, or indented by two spaces a level when `pretty`.
    public func serialized(pretty: Bool = false) -> String {
        var out = ""
        write(into: &out, pretty: pretty, depth: 0)
        return out
    }

    private func write(into out: inout String, pretty: Bool, depth: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        case .fixed(let value, let decimals):
            out += value.isFinite ? String(format: "%.\(max(0, decimals))f", value) : "null"
        case .string(let value): Self.writeString(value, into: &out)
        case .array(let values):
            if values.isEmpty { out += "[]"; return }
            // Arrays of scalars stay on one line even when pretty.
            let nested = pretty && values.contains { if case .object = $0 { return true }; if case .array = $0 { return true }; return false }
            out += "["
            for (i, value) in values.enumerated() {
                if i > 0 { out += nested ? "," : (pretty ? ", " : ",") }
                if nested { out += "\n" + String(repeating: "  ", count: depth + 1) }
                value.write(into: &out, pretty: pretty, depth: depth + 1)
            }
            if nested { out += "\n" + String(repeating: "  ", count: depth) }
            out += "]"
        case .object(let members):
            if members.isEmpty { out += "{}"; return }
            out += "{"
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out += "," }
                if pretty { out += "\n" + String(repeating: "  ", count: depth + 1) }
                Self.writeString(key, into: &out)
                out += pretty ? ": " : ":"
                value.write(into: &out, pretty: pretty, depth: depth + 1)
            }
            if pretty { out += "\n" + String(repeating: "  ", count: depth) }
            out += "}"
        }
    }

    /// Writes `value` as a JSON string literal.
    static func writeString(_ value: String, into out: inout String) { JSONStringLiteral.append(value, to: &out) }
}

/// Writes the emoji benchmark's manifest.jsonl and split-stats.json.
public enum EmojiManifest {
    /// Records sorted by code point sequence (numerically, element by element).
    public static func sorted(_ records: [EmojiManifestRecord]) -> [EmojiManifestRecord] {
        records.sorted { $0.codePoints.lexicographicallyPrecedes($1.codePoints) }
    }

    /// manifest.jsonl: one JSON object per line, sorted, ending with a newline.
    public static func jsonl(_ records: [EmojiManifestRecord]) -> String {
        var out = ""
        for record in sorted(records) {
            out += record.json.serialized()
            out += "\n"
        }
        return out
    }

    /// split-stats.json: counts per split, per group and split, per held-out
    /// reason and split, and of emoji put back into training per reason.
    public static func statistics(_ records: [EmojiManifestRecord], extra: [(String, OrderedJSON)] = []) -> OrderedJSON {
        let splits = EmojiSplitName.allCases
        func counts(_ subset: [EmojiManifestRecord]) -> OrderedJSON {
            .object(splits.map { split in (split.rawValue, .int(subset.filter { $0.split == split }.count)) })
        }
        let total = records.count
        let fractions = OrderedJSON.object(splits.map { split in
            (split.rawValue, .fixed(total == 0 ? 0 : Double(records.filter { $0.split == split }.count) / Double(total), decimals: 4))
        })
        let groups = Set(records.map(\.group)).sorted()
        let byGroup = OrderedJSON.object(groups.map { group in (group, counts(records.filter { $0.group == group })) })
        let byReason = OrderedJSON.object(EmojiHoldoutReason.allCases.map { reason in
            (reason.rawValue, counts(records.filter { $0.heldOutReason == reason && $0.split != .train }))
        })
        let returned = OrderedJSON.object(EmojiReturnReason.allCases.map { reason in
            (reason.rawValue, .int(records.filter { $0.returnedToTrain == reason }.count))
        })
        let heldFamilies = Set(records.filter { $0.heldOutReason == .family && $0.split != .train }.map(\.family))
        var members: [(String, OrderedJSON)] = [
            ("total", .int(total)),
            ("splits", counts(records)),
            ("fractions", fractions),
            ("held_out_reasons", byReason),
            ("returned_to_train", returned),
            ("held_out_families", .int(heldFamilies.count)),
            ("with_caption_zh", .int(records.filter { $0.captionZh != nil }.count)),
            ("with_keywords", .int(records.filter { !$0.keywords.isEmpty }.count)),
            ("with_same_image", .int(records.filter { !$0.sameImageAs.isEmpty }.count)),
            ("groups", byGroup),
        ]
        members.append(contentsOf: extra)
        return .object(members)
    }
}
