/// Why a teacher-embedding cache could not be built, opened or used. Every
/// refusal of an existing file names the file, what is wrong with it and the
/// command that rebuilds it.
public enum TeacherCacheError: Error, Equatable, CustomStringConvertible {
    /// No file at the path.
    case missing(path: String, rebuild: String)
    /// The file is not a cache, is cut short, or its bytes do not match their checksums.
    case corrupt(path: String, reason: String, rebuild: String)
    /// A cache written by another format version.
    case unsupportedVersion(path: String, found: UInt32, supported: UInt32, rebuild: String)
    /// A valid cache built for another teacher, dataset or preprocessing.
    case stale(path: String, mismatches: [TeacherCacheMismatch], rebuild: String)
    /// The policy says rebuild but the caller gave no way to build.
    case rebuildUnavailable(path: String, cause: String)
    /// A file-system call failed.
    case io(FileIOError)
    /// A file or directory the build needs could not be made.
    case fileSystem(path: String, reason: String)
    /// The teacher model directory could not be loaded.
    case teacher(path: String, reason: String)
    /// A record's image could not be read or decoded.
    case image(record: String, location: String, reason: String)
    /// A tower rejected its input.
    case model(String)
    /// A slice outside the dataset was asked for.
    case invalidSlice(start: Int, end: Int, count: Int)
    /// A child `conaclip cache build-part` process failed, with its standard error.
    case worker(part: Int, records: Range<Int>, status: Int32, stderr: String)
    /// A child did not finish within the build's time limit.
    case workerTimeout(part: Int, records: Range<Int>, seconds: Double)
    /// Part files that do not fit together.
    case parts(String)
    /// Embeddings are stored little-endian; this machine is not.
    case unsupportedHost

    public var description: String {
        switch self {
        case let .missing(path, rebuild):
            return "teacher cache \(path) does not exist; build it with: \(rebuild)"
        case let .corrupt(path, reason, rebuild):
            return "teacher cache \(path) is corrupt (\(reason)); delete it and rebuild with: \(rebuild)"
        case let .unsupportedVersion(path, found, supported, rebuild):
            return "teacher cache \(path) has format version \(found) but this conaclip reads version \(supported); "
                + "rebuild it with: \(rebuild)"
        case let .stale(path, mismatches, rebuild):
            let lines = mismatches.map { "  - " + $0.description }.joined(separator: "\n")
            return "teacher cache \(path) was built for something else and is refused:\n\(lines)\n"
                + "rebuild it with: \(rebuild) (or set teacher_cache.on_stale: rebuild)"
        case let .rebuildUnavailable(path, cause):
            return "teacher cache \(path) must be rebuilt (\(cause)) but no teacher and dataset were given to rebuild it"
        case let .io(error):
            return error.description
        case let .fileSystem(path, reason):
            return "\(path): \(reason)"
        case let .teacher(path, reason):
            return "teacher model \(path): \(reason)"
        case let .image(record, location, reason):
            return "\(location): image of record \"\(record)\": \(reason)"
        case let .model(reason):
            return "teacher forward pass failed: \(reason)"
        case let .invalidSlice(start, end, count):
            return "records \(start)..<\(end) are not a slice of a dataset of \(count) records"
        case let .worker(part, records, status, stderr):
            let detail = stderr.isEmpty ? "(no output on standard error)" : stderr
            return "cache build worker \(part) (records \(records.lowerBound)..<\(records.upperBound)) failed "
                + "with exit status \(status):\n\(detail)"
        case let .workerTimeout(part, records, seconds):
            return "cache build worker \(part) (records \(records.lowerBound)..<\(records.upperBound)) did not finish "
                + "within \(seconds) s and was stopped; raise --timeout or use more workers"
        case let .parts(reason):
            return "cache parts do not fit together: \(reason)"
        case .unsupportedHost:
            return "teacher caches store little-endian float32 and this machine is big-endian"
        }
    }

    /// Whether the `rebuild` policy may replace the file: it is missing,
    /// unreadable as a cache, or built for something else.
    public var isRebuildable: Bool {
        switch self {
        case .missing, .corrupt, .unsupportedVersion, .stale: return true
        default: return false
        }
    }
}

/// One part of a cache's key that differs from what the caller expects.
public struct TeacherCacheMismatch: Equatable, Sendable, CustomStringConvertible {
    /// The key field, e.g. `teacher_digest` or `preprocessing.crop_size`.
    public var field: String
    public var expected: String
    public var found: String

    public init(field: String, expected: String, found: String) {
        self.field = field; self.expected = expected; self.found = found
    }

    public var description: String {
        "\(TeacherCacheKey.explanation(of: field)): the cache has \(found), expected \(expected)"
    }
}
