import Foundation

/// Expands a WebDataset shard specification into tar paths, in a
/// deterministic order: a directory (its `.tar` files sorted by name), brace
/// patterns (`shard-{000..009}.tar`, `{a,b}.tar`, expanded in order, each
/// shard must exist), globs in the file-name part (`shards/*.tar`, sorted),
/// a single file, or several of these joined by `::`.
public enum ShardList {
    /// Largest number of shards one pattern may expand to (guards against typos like `{0..99999999}`).
    public static let maxShards = 1_000_000

    /// Whether `spec` uses brace or glob syntax.
    public static func isPattern(_ spec: String) -> Bool {
        spec.contains { "{*?[".contains($0) }
    }

    /// The shard paths `spec` names.
    public static func expand(_ spec: String) throws(DatasetError) -> [String] {
        var shards: [String] = []
        for part in spec.components(separatedBy: "::") where !part.isEmpty {
            if DatasetFiles.isDirectory(part) {
                shards += try directoryShards(part)
                continue
            }
            for candidate in try braceExpand(part, spec: spec) {
                if candidate.contains(where: { "*?[".contains($0) }) {
                    shards += try glob(candidate)
                } else {
                    guard DatasetFiles.isRegularFile(candidate) else {
                        throw .noShards(pattern: spec, reason: "shard \(candidate) does not exist or is not a file")
                    }
                    shards.append(candidate)
                }
            }
        }
        guard !shards.isEmpty else { throw .noShards(pattern: spec, reason: "names no tar shard") }
        return shards
    }

    private static func directoryShards(_ directory: String) throws(DatasetError) -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw .unreadable(path: directory, reason: error.localizedDescription)
        }
        let shards = names.filter { $0.lowercased().hasSuffix(".tar") && !$0.hasPrefix(".") }
            .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            .map { DatasetFiles.resolve($0, relativeTo: directory) }
            .filter(DatasetFiles.isRegularFile)
        guard !shards.isEmpty else { throw .noShards(pattern: directory, reason: "the directory holds no .tar shard") }
        return shards
    }

    /// Expands the first `{...}` group and recurses on the results.
    static func braceExpand(_ pattern: String, spec: String) throws(DatasetError) -> [String] {
        guard let open = pattern.firstIndex(of: "{") else {
            if pattern.contains("}") { throw .noShards(pattern: spec, reason: "unbalanced \"}\" in the shard pattern") }
            return [pattern]
        }
        guard let close = pattern[open...].firstIndex(of: "}") else {
            throw .noShards(pattern: spec, reason: "unbalanced \"{\" in the shard pattern")
        }
        let head = String(pattern[..<open])
        let body = String(pattern[pattern.index(after: open)..<close])
        let tail = String(pattern[pattern.index(after: close)...])
        var alternatives: [String]
        if let range = body.range(of: "..") {
            let lowText = String(body[..<range.lowerBound]), highText = String(body[range.upperBound...])
            guard let low = Int(lowText), let high = Int(highText), low >= 0, low <= high else {
                throw .noShards(pattern: spec, reason: "\"{\(body)}\" is not a range like {000..009}")
            }
            guard high - low < maxShards else {
                throw .noShards(pattern: spec, reason: "\"{\(body)}\" names more than \(maxShards) shards")
            }
            let width = lowText.hasPrefix("0") ? lowText.count : 0
            alternatives = (low...high).map { value in
                let digits = String(value)
                return String(repeating: "0", count: max(0, width - digits.count)) + digits
            }
        } else {
            alternatives = body.components(separatedBy: ",")
        }
        var result: [String] = []
        for alternative in alternatives {
            result += try braceExpand(head + alternative + tail, spec: spec)
            guard result.count <= maxShards else {
                throw .noShards(pattern: spec, reason: "names more than \(maxShards) shards")
            }
        }
        return result
    }

    /// Matches a glob in the file-name part of `pattern` (the directory part must be literal).
    private static func glob(_ pattern: String) throws(DatasetError) -> [String] {
        let directory = DatasetFiles.directory(of: pattern)
        let namePattern = directory.isEmpty ? pattern : String(pattern.dropFirst(directory.count + (directory == "/" ? 0 : 1)))
        guard !directory.contains(where: { "*?[".contains($0) }) else {
            throw .noShards(pattern: pattern, reason: "wildcards are only allowed in the file name, not in directories")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)
        } catch {
            throw .noShards(pattern: pattern, reason: "cannot list \(directory.isEmpty ? "." : directory)")
        }
        let matches = names.filter { fnmatch(namePattern, $0, 0) == 0 && !$0.hasPrefix(".") }
            .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            .map { DatasetFiles.resolve($0, relativeTo: directory) }
            .filter(DatasetFiles.isRegularFile)
        guard !matches.isEmpty else { throw .noShards(pattern: pattern, reason: "matches no file") }
        return matches
    }
}
