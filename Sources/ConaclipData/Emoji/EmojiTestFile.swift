/// How an emoji-test.txt line is qualified (UTS #51, ED-18/18a/19).
public enum EmojiQualification: String, Sendable, Equatable, CaseIterable {
    case component
    case fullyQualified = "fully-qualified"
    case minimallyQualified = "minimally-qualified"
    case unqualified
}

/// One emoji listed in Unicode's emoji-test.txt.
public struct EmojiTestEntry: Sendable, Equatable {
    /// The code points, in order (including any U+FE0F / U+200D).
    public var codePoints: [UInt32]
    public var qualification: EmojiQualification
    /// The CLDR short name, e.g. "waving hand: medium skin tone".
    public var name: String
    /// The Emoji version that introduced it, e.g. "E1.0".
    public var version: String
    /// The "# group:" the line is under, e.g. "People & Body".
    public var group: String
    /// The "# subgroup:" the line is under, e.g. "hand-fingers-open".
    public var subgroup: String

    public init(codePoints: [UInt32], qualification: EmojiQualification, name: String, version: String,
                group: String, subgroup: String) {
        self.codePoints = codePoints
        self.qualification = qualification
        self.name = name
        self.version = version
        self.group = group
        self.subgroup = subgroup
    }

    /// Stable id: the code points in lower-case hex joined by "-", e.g. "1f44b-1f3fd".
    public var id: String { EmojiTestFile.id(for: codePoints) }

    /// The emoji as a string.
    public var string: String { EmojiTestFile.string(for: codePoints) }
}

/// Parser of Unicode's emoji-test.txt (Debian package unicode-data:
/// /usr/share/unicode/emoji/emoji-test.txt). Data lines look like
/// `1F44B 1F3FD ; fully-qualified # 👋🏽 E1.0 waving hand: medium skin tone`,
/// under `# group:` and `# subgroup:` comment lines.
public enum EmojiTestFile {
    /// Every data line of `text`, in file order. `file` names the source in errors.
    public static func parse(_ text: String, file: String = "emoji-test.txt") throws(EmojiDataError) -> [EmojiTestEntry] {
        var entries: [EmojiTestEntry] = []
        var group = ""
        var subgroup = ""
        var lineNumber = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                if let value = line.value(after: "# group:") { group = value }
                if let value = line.value(after: "# subgroup:") { subgroup = value }
                continue
            }
            guard let semicolon = line.firstIndex(of: ";") else {
                throw EmojiDataError.malformedLine(file: file, line: lineNumber, detail: "expected 'code points ; status # comment'")
            }
            var codePoints: [UInt32] = []
            for hex in line[..<semicolon].split(separator: " ") {
                guard hex.count <= 6, let value = UInt32(hex, radix: 16), Unicode.Scalar(value) != nil else {
                    throw EmojiDataError.malformedLine(file: file, line: lineNumber, detail: "'\(hex)' is not a code point")
                }
                codePoints.append(value)
            }
            guard !codePoints.isEmpty else {
                throw EmojiDataError.malformedLine(file: file, line: lineNumber, detail: "no code points before ';'")
            }
            let rest = line[line.index(after: semicolon)...]
            guard let hash = rest.firstIndex(of: "#") else {
                throw EmojiDataError.malformedLine(file: file, line: lineNumber, detail: "no '#' comment with the name")
            }
            let statusText = String(rest[..<hash]).trimmingWhitespace()
            guard let qualification = EmojiQualification(rawValue: statusText) else {
                throw EmojiDataError.malformedLine(file: file, line: lineNumber, detail: "unknown status '\(statusText)'")
            }
            // "# 👋🏽 E1.0 waving hand: medium skin tone"
            let comment = String(rest[rest.index(after: hash)...]).trimmingWhitespace()
            let parts = comment.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            guard parts.count == 3, parts[1].hasPrefix("E"), parts[1].dropFirst().allSatisfy({ $0.isNumber || $0 == "." }) else {
                throw EmojiDataError.malformedLine(file: file, line: lineNumber,
                                                   detail: "comment '\(comment)' is not 'EMOJI E<version> name'")
            }
            guard !group.isEmpty, !subgroup.isEmpty else {
                throw EmojiDataError.malformedLine(file: file, line: lineNumber, detail: "data line before any '# group:' and '# subgroup:'")
            }
            entries.append(EmojiTestEntry(codePoints: codePoints, qualification: qualification,
                                          name: String(parts[2]).trimmingWhitespace(), version: String(parts[1]),
                                          group: group, subgroup: subgroup))
        }
        return entries
    }

    /// The id of a code point sequence: lower-case hex joined by "-".
    public static func id(for codePoints: [UInt32]) -> String {
        codePoints.map { String($0, radix: 16) }.joined(separator: "-")
    }

    /// The string of a code point sequence (invalid scalars are skipped).
    public static func string(for codePoints: [UInt32]) -> String {
        var scalars = String.UnicodeScalarView()
        for value in codePoints { if let scalar = Unicode.Scalar(value) { scalars.append(scalar) } }
        return String(scalars)
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and carriage returns.
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }

    /// The trimmed text after `prefix`, when the text starts with it.
    func value(after prefix: String) -> String? {
        guard hasPrefix(prefix) else { return nil }
        return String(dropFirst(prefix.count)).trimmingWhitespace()
    }
}
