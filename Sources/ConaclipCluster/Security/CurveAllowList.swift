import Foundation

/// The CURVE public keys allowed to connect, each with an optional name for
/// logs. File format: one Z85 key per line, optionally followed by
/// whitespace and a name (a leading `#` before the name is dropped); other
/// lines starting with `#` are comments; blank lines are ignored.
public struct CurveAllowList: Sendable, Equatable {
    /// Allowed keys and their names (the name is the Z85 key if none was given).
    public private(set) var names: [ZeroMQCurveKey: String]

    /// An allow-list of `keys`, named by `names` where given.
    public init(keys: [ZeroMQCurveKey] = [], names: [ZeroMQCurveKey: String] = [:]) {
        self.names = [:]
        for key in keys { self.names[key] = names[key] ?? key.z85 }
        for (key, name) in names { self.names[key] = name }
    }

    /// Whether `key` may connect.
    public func allows(_ key: ZeroMQCurveKey) -> Bool { names[key] != nil }

    /// The name given to `key`, if it is allowed.
    public func name(of key: ZeroMQCurveKey) -> String? { names[key] }

    /// Number of allowed keys.
    public var count: Int { names.count }

    /// Adds `key` (with a name for logs).
    public mutating func allow(_ key: ZeroMQCurveKey, name: String? = nil) { names[key] = name ?? key.z85 }

    /// Parses allow-list text; `path` is only used in error messages.
    public init(parsing text: String, path: String = "allow-list") throws(SecurityError) {
        names = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = rawLine.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let first = fields.first else { continue }
            // '#' is a Z85 character (it can appear inside a key, though never
            // first), so a line is a key line if its first field is a key.
            guard let key = try? ZeroMQCurveKey(z85: String(first)) else {
                if first.hasPrefix("#") { continue }
                let reason: String
                do { _ = try ZeroMQCurveKey(z85: String(first)); reason = "not a key" } catch { reason = error.description }
                throw .invalidAllowList(path: path, line: index + 1, reason: reason)
            }
            var name = fields.dropFirst().joined(separator: " ")
            if name.hasPrefix("#") { name = String(name.dropFirst()).trimmingCharacters(in: .whitespaces) }
            names[key] = name.isEmpty ? key.z85 : name
        }
    }

    /// Loads an allow-list file.
    public init(contentsOfFile path: String) throws(SecurityError) {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .fileAccess(path: path, reason: error.localizedDescription)
        }
        try self.init(parsing: text, path: path)
    }
}
