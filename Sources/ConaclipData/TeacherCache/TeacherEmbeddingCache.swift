import Foundation

/// A teacher-embedding cache file opened by memory map: the frozen teacher's
/// raw projected image and text embedding of every dataset record, computed
/// once by `conaclip cache build`, read in place during distillation.
///
/// A cache is only ever used after its header, header checksum, sizes,
/// payload checksum (unless skipped) and key were checked against what the
/// caller expects; see `open(path:expecting:policy:rebuildCommand:rebuild:)`.
public final class TeacherEmbeddingCache: @unchecked Sendable {
    public let path: String
    public let header: TeacherCacheHeader
    private let file: MappedFile
    private let offsets: TeacherCacheLayout.Offsets
    private let images: UnsafePointer<Float>?
    private let texts: UnsafePointer<Float>?
    private let indexLock = NSLock()
    private var indexByID: [String: Int]?

    /// Records held.
    public var count: Int { header.count }
    /// Embedding width.
    public var dim: Int { header.dim }
    public var key: TeacherCacheKey { header.key }

    private init(path: String, file: MappedFile, header: TeacherCacheHeader, offsets: TeacherCacheLayout.Offsets) {
        self.path = path
        self.file = file
        self.header = header
        self.offsets = offsets
        if header.count > 0, let base = file.bytes.baseAddress {
            images = (base + offsets.payload).assumingMemoryBound(to: Float.self)
            texts = (base + offsets.text).assumingMemoryBound(to: Float.self)
        } else {
            images = nil; texts = nil
        }
    }

    /// Opens the cache at `path` for the teacher, dataset and preprocessing
    /// described by `expected`.
    ///
    /// A missing, corrupt or stale file (or one of another format version) is
    /// refused with an error that names the differing parts and the command
    /// that rebuilds it (`rebuildCommand`, or else the one recorded in the
    /// file). Under `policy.onStale == .rebuild`, `rebuild` is called instead
    /// to write a new file at `path`, which is then opened and checked in full
    /// (checksum included); if it still does not match, that is an error. A
    /// cache is never used without passing these checks.
    public static func open(
        path: String, expecting expected: TeacherCacheKey, policy: TeacherCachePolicy = TeacherCachePolicy(),
        rebuildCommand: String? = nil, rebuild: (() throws(TeacherCacheError) -> Void)? = nil
    ) throws(TeacherCacheError) -> TeacherEmbeddingCache {
        do {
            return try openChecked(path: path, expected: expected, verifyPayload: policy.verifyPayload,
                                   rebuildCommand: rebuildCommand)
        } catch let error where error.isRebuildable && policy.onStale == .rebuild {
            guard let rebuild else { throw .rebuildUnavailable(path: path, cause: error.description) }
            try rebuild()
            return try openChecked(path: path, expected: expected, verifyPayload: true, rebuildCommand: rebuildCommand)
        }
    }

    /// Opens and verifies a cache file (or part file) without comparing its
    /// key with anything; for `conaclip cache inspect` and for merging parts.
    public static func inspect(path: String, verifyPayload: Bool = true,
                               rebuildCommand: String? = nil) throws(TeacherCacheError) -> TeacherEmbeddingCache {
        #if _endian(big)
        throw .unsupportedHost
        #else
        func rebuild(_ source: TeacherCacheSource?) -> String {
            rebuildCommand ?? source?.rebuildCommand(out: path)
                ?? "conaclip cache build --teacher TEACHER_DIR --data MANIFEST --out \(path)"
        }
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            if error.isNotFound { throw .missing(path: path, rebuild: rebuild(nil)) }
            throw .io(error)
        }
        let (header, offsets) = try TeacherCacheLayout.readHeader(file.bytes, path: path, rebuild: rebuild)
        if verifyPayload {
            let digest = TeacherCacheLayout.payloadDigest(file.bytes, offsets: offsets)
            guard digest == header.payloadSHA256 else {
                throw .corrupt(path: path, reason: "the payload does not match its SHA-256 (payload_sha256 "
                               + "\(header.payloadSHA256), computed \(digest))", rebuild: rebuild(header.source))
            }
        }
        return TeacherEmbeddingCache(path: path, file: file, header: header, offsets: offsets)
        #endif
    }

    private static func openChecked(path: String, expected: TeacherCacheKey, verifyPayload: Bool,
                                    rebuildCommand: String?) throws(TeacherCacheError) -> TeacherEmbeddingCache {
        let cache = try inspect(path: path, verifyPayload: verifyPayload, rebuildCommand: rebuildCommand)
        let rebuild = rebuildCommand ?? cache.header.source.rebuildCommand(out: path)
        let mismatches = expected.mismatches(in: cache.header.key)
        guard mismatches.isEmpty else { throw .stale(path: path, mismatches: mismatches, rebuild: rebuild) }
        guard cache.header.isComplete else {
            throw .corrupt(path: path, reason: "it is a part file holding records \(cache.header.sliceStart)..<"
                           + "\(cache.header.sliceStart + cache.header.count) of \(cache.header.key.recordCount), "
                           + "not a whole cache", rebuild: rebuild)
        }
        return cache
    }

    /// The raw projected image embedding of record `index` (`dim` floats),
    /// valid while the cache is alive. `index` must be below `count`.
    public func imageEmbedding(_ index: Int) -> UnsafeBufferPointer<Float> {
        precondition(index >= 0 && index < count, "record \(index) is outside a cache of \(count)")
        return UnsafeBufferPointer(start: images.map { $0 + index * dim }, count: dim)
    }

    /// The raw projected text embedding of record `index` (`dim` floats).
    public func textEmbedding(_ index: Int) -> UnsafeBufferPointer<Float> {
        precondition(index >= 0 && index < count, "record \(index) is outside a cache of \(count)")
        return UnsafeBufferPointer(start: texts.map { $0 + index * dim }, count: dim)
    }

    /// All image embeddings, `[count, dim]` row-major.
    public var imageEmbeddings: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: images, count: count * dim) }
    /// All text embeddings, `[count, dim]` row-major.
    public var textEmbeddings: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: texts, count: count * dim) }

    /// The index in this file of the record with id `id` (built on first use).
    public func index(ofRecord id: String) -> Int? {
        indexLock.lock()
        defer { indexLock.unlock() }
        if indexByID == nil {
            var map: [String: Int] = [:]
            map.reserveCapacity(count)
            for (i, recordID) in header.recordIDs.enumerated() where map[recordID] == nil { map[recordID] = i }
            indexByID = map
        }
        return indexByID?[id]
    }

    /// The raw bytes of the payload (for merging parts).
    var payloadBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[offsets.payload..<offsets.fileSize])
    }
}
