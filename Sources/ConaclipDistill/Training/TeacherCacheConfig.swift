/// The teacher-embedding cache settings of a training config
/// (`teacher_cache:`). They live in the distillation layer because the
/// training config holds them; the cache itself is in ConaclipData.

/// What to do with a cache that is missing, corrupt or built for another
/// teacher, dataset or preprocessing; the config's
/// `teacher_cache: {path, on_stale: refuse|rebuild}`.
public enum TeacherCacheStalePolicy: String, Codable, Sendable, CaseIterable {
    /// Stop with an error naming what differs and the rebuild command (the default).
    case refuse
    /// Build the cache anew (replacing the file atomically), then use it.
    case rebuild
}

/// How to open a teacher cache.
public struct TeacherCachePolicy: Sendable, Equatable {
    public var onStale: TeacherCacheStalePolicy
    /// Check the payload's SHA-256 on open (default). Skipping it saves one
    /// read and SHA-256 pass over the whole file when the file is known good,
    /// e.g. the same file reopened by the workers of one run; the header,
    /// its SHA-256, the key and the file size are checked either way.
    public var verifyPayload: Bool

    public init(onStale: TeacherCacheStalePolicy = .refuse, verifyPayload: Bool = true) {
        self.onStale = onStale; self.verifyPayload = verifyPayload
    }
}

/// The config section `teacher_cache: {path: FILE, on_stale: refuse|rebuild, verify_payload: true}`.
public struct TeacherCacheConfig: Codable, Sendable, Equatable {
    public var path: String
    public var onStale: TeacherCacheStalePolicy
    public var verifyPayload: Bool

    public init(path: String, onStale: TeacherCacheStalePolicy = .refuse, verifyPayload: Bool = true) {
        self.path = path; self.onStale = onStale; self.verifyPayload = verifyPayload
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        path = try container.decode(String.self, forKey: .path)
        onStale = try container.decodeIfPresent(TeacherCacheStalePolicy.self, forKey: .onStale) ?? .refuse
        verifyPayload = try container.decodeIfPresent(Bool.self, forKey: .verifyPayload) ?? true
    }

    public var policy: TeacherCachePolicy { TeacherCachePolicy(onStale: onStale, verifyPayload: verifyPayload) }

    enum CodingKeys: String, CodingKey {
        case path, onStale = "on_stale", verifyPayload = "verify_payload"
    }
}
