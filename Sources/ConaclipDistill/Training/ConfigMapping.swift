import Foundation
import Yams

/// One YAML mapping of a training config, read strictly: keys outside the
/// allowed list are refused up front with the nearest allowed key, values of
/// the wrong kind are refused with their line, and every message carries the
/// dotted key path (`optimizer.lr`) and `FILE:LINE`.
struct ConfigMapping {
    let file: String
    /// Dotted path of this mapping ("" for the top level).
    let path: String
    private var values: [String: (node: Node, line: Int?)] = [:]

    /// Reads `node` as a mapping whose keys must all be in `allowed`.
    init(_ node: Node, file: String, path: String, allowed: [String]) throws(TrainingConfigError) {
        self.file = file
        self.path = path
        guard case let .mapping(mapping) = node else {
            throw .wrongType(source: Self.at(file, node.mark?.line), key: path.isEmpty ? "the top level" : path,
                             expected: "a mapping of keys", found: Self.kind(of: node))
        }
        for (keyNode, value) in mapping {
            guard case let .scalar(key) = keyNode else {
                throw .syntax(source: Self.at(file, keyNode.mark?.line), reason: "keys must be plain names")
            }
            let name = key.string
            guard allowed.contains(name) else {
                throw .unknownKey(source: Self.at(file, keyNode.mark?.line), key: Self.join(path, name),
                                  suggestion: Self.nearest(name, in: allowed).map { Self.join(path, $0) })
            }
            guard values[name] == nil else {
                throw .syntax(source: Self.at(file, keyNode.mark?.line), reason: "key \(Self.join(path, name)) appears twice")
            }
            values[name] = (value, keyNode.mark?.line)
        }
    }

    /// The text of the YAML file at `path`.
    static func readText(path: String) throws(TrainingConfigError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
    }

    /// The top-level mapping of the YAML text `yaml` (`source` names it in
    /// errors), whose keys must all be in `allowed`. Empty text and YAML
    /// syntax errors are `.syntax` errors naming `source`.
    init(yaml: String, source: String, allowed: [String]) throws(TrainingConfigError) {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            let reason = (error as? YamlError).map { "\($0)".split(separator: "\n").first.map(String.init) ?? "\($0)" } ?? "\(error)"
            throw .syntax(source: source, reason: reason)
        }
        guard let node else { throw .syntax(source: source, reason: "the file is empty") }
        try self.init(node, file: source, path: "", allowed: allowed)
    }

    /// Whether `key` is present (a `null` value counts as absent).
    func has(_ key: String) -> Bool {
        guard let node = values[key]?.node else { return false }
        return !Self.isNull(node)
    }

    /// The raw node of `key`, if present and not null.
    func node(_ key: String) -> Node? { has(key) ? values[key]?.node : nil }

    /// `FILE:LINE` of `key` (or of the file when unknown).
    func location(_ key: String) -> String { Self.at(file, values[key]?.line) }

    /// The dotted path of `key`.
    func keyPath(_ key: String) -> String { Self.join(path, key) }

    func wrongType(_ key: String, expected: String) -> TrainingConfigError {
        .wrongType(source: location(key), key: keyPath(key), expected: expected,
                   found: values[key].map { Self.kind(of: $0.node) } ?? "nothing")
    }

    func invalid(_ key: String, _ reason: String) -> TrainingConfigError {
        .invalidValue(source: location(key), key: keyPath(key), reason: reason)
    }

    func missing(_ key: String) -> TrainingConfigError {
        .missingKey(source: Self.at(file, nil), key: keyPath(key))
    }

    // MARK: - Typed values

    func string(_ key: String) throws(TrainingConfigError) -> String? {
        guard let node = node(key) else { return nil }
        guard case let .scalar(scalar) = node else { throw wrongType(key, expected: "a string") }
        return scalar.string
    }

    func int(_ key: String) throws(TrainingConfigError) -> Int? {
        guard let node = node(key) else { return nil }
        guard case let .scalar(scalar) = node else { throw wrongType(key, expected: "an integer") }
        switch Resolver.default.resolveTag(of: node) {
        case .int:
            if let value = Int.construct(from: scalar) { return value }
        case .float:
            if let value = Double.construct(from: scalar), value.rounded() == value, abs(value) < 9.0e15 { return Int(value) }
        default:
            break
        }
        throw wrongType(key, expected: "an integer")
    }

    func double(_ key: String) throws(TrainingConfigError) -> Double? {
        guard let node = node(key) else { return nil }
        guard case let .scalar(scalar) = node else { throw wrongType(key, expected: "a number") }
        switch Resolver.default.resolveTag(of: node) {
        case .int:
            if let value = Int.construct(from: scalar) { return Double(value) }
        case .float:
            if let value = Double.construct(from: scalar) { return value }
        default:
            break
        }
        throw wrongType(key, expected: "a number")
    }

    func bool(_ key: String) throws(TrainingConfigError) -> Bool? {
        guard let node = node(key) else { return nil }
        guard case let .scalar(scalar) = node, Resolver.default.resolveTag(of: node) == .bool,
              let value = Bool.construct(from: scalar) else { throw wrongType(key, expected: "true or false") }
        return value
    }

    /// A seed: a non-negative integer.
    func seed(_ key: String) throws(TrainingConfigError) -> UInt64? {
        guard let value = try int(key) else { return nil }
        guard value >= 0 else { throw invalid(key, "a seed must be >= 0, got \(value)") }
        return UInt64(value)
    }

    func mapping(_ key: String, allowed: [String]) throws(TrainingConfigError) -> ConfigMapping? {
        guard let node = node(key) else { return nil }
        guard case .mapping = node else { throw wrongType(key, expected: "a mapping with keys \(allowed.joined(separator: ", "))") }
        return try ConfigMapping(node, file: file, path: keyPath(key), allowed: allowed)
    }

    /// A list of strings, each with its `FILE:LINE` and `key[index]`.
    func stringList(_ key: String) throws(TrainingConfigError) -> [(value: String, source: String, key: String)]? {
        guard let node = node(key) else { return nil }
        guard case let .sequence(sequence) = node else { throw wrongType(key, expected: "a list of strings") }
        var items: [(String, String, String)] = []
        for (index, item) in sequence.enumerated() {
            let itemKey = "\(keyPath(key))[\(index)]"
            guard case let .scalar(scalar) = item else {
                throw .wrongType(source: Self.at(file, item.mark?.line), key: itemKey, expected: "a string", found: Self.kind(of: item))
            }
            items.append((scalar.string, Self.at(file, item.mark?.line ?? values[key]?.line), itemKey))
        }
        return items
    }

    // MARK: - Helpers

    static func at(_ file: String, _ line: Int?) -> String { line.map { "\(file):\($0)" } ?? file }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    static func isNull(_ node: Node) -> Bool {
        if case .scalar = node { return Resolver.default.resolveTag(of: node) == .null }
        return false
    }

    static func kind(of node: Node) -> String {
        switch node {
        case let .scalar(scalar):
            switch Resolver.default.resolveTag(of: node) {
            case .null: return "null"
            case .bool: return "a boolean (\(scalar.string))"
            case .int: return "an integer (\(scalar.string))"
            case .float: return "a number (\(scalar.string))"
            default: return "a string (\"\(scalar.string)\")"
            }
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// The allowed key closest to `key` by edit distance (at most 2 edits, or
    /// a case-insensitive match), for "did you mean" hints.
    static func nearest(_ key: String, in allowed: [String]) -> String? {
        if let match = allowed.first(where: { $0.lowercased() == key.lowercased() }) { return match }
        var best: (String, Int)?
        for candidate in allowed {
            let distance = editDistance(Array(key.lowercased().utf8), Array(candidate.utf8))
            if distance <= 2, best == nil || distance < best?.1 ?? .max { best = (candidate, distance) }
        }
        return best?.0
    }

    private static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
