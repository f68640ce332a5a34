/// Why the emoji benchmark could not be built: missing system packages,
/// malformed data files, an unreadable font or glyph, an unwritable output.
/// Messages name the file (and line) and, for missing inputs, the exact
/// `apt-get install` command that provides them.
public enum EmojiDataError: Error, Equatable, CustomStringConvertible {
    /// A data file the builder needs and the Debian package that installs it.
    public struct MissingInput: Sendable, Equatable {
        public var path: String
        public var package: String
        public init(path: String, package: String) {
            self.path = path
            self.package = package
        }
    }

    /// Input files are absent (usually: their packages are not installed).
    case missingInputs([MissingInput])
    /// A file exists but could not be read or is not UTF-8.
    case unreadable(path: String, detail: String)
    /// A line of a text data file does not have the expected shape.
    case malformedLine(file: String, line: Int, detail: String)
    /// A CLDR annotation file is not the XML it should be.
    case malformedXML(file: String, detail: String)
    /// The font could not be read.
    case font(EmojiFontError)
    /// An emoji's bitmap could not be decoded or resized.
    case image(id: String, detail: String)
    /// An output file or directory could not be written.
    case unwritable(path: String, detail: String)
    /// The inputs produced no usable emoji.
    case empty(String)

    /// The single command that installs every missing package.
    public static func installCommand(for missing: [MissingInput]) -> String {
        var packages: [String] = []
        for item in missing where !packages.contains(item.package) { packages.append(item.package) }
        return "apt-get install " + packages.joined(separator: " ")
    }

    public var description: String {
        switch self {
        case .missingInputs(let missing):
            let list = missing.map { "\($0.path) (package \($0.package))" }.joined(separator: ", ")
            return "missing emoji data files: \(list). Install them with: \(Self.installCommand(for: missing))"
        case .unreadable(let path, let detail):
            return "cannot read \(path): \(detail)"
        case .malformedLine(let file, let line, let detail):
            return "\(file):\(line): \(detail)"
        case .malformedXML(let file, let detail):
            return "\(file): malformed annotation XML: \(detail)"
        case .font(let error):
            return error.description
        case .image(let id, let detail):
            return "emoji \(id): \(detail)"
        case .unwritable(let path, let detail):
            return "cannot write \(path): \(detail)"
        case .empty(let detail):
            return "no emoji: \(detail)"
        }
    }
}
