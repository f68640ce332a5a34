/// A teacher-embedding cache as the trainer's `TeacherEmbeddingSource`: the
/// embeddings of a micro-shard are copied from the mapped file by the rows'
/// dataset indices (`TrainingBatch.indices`) instead of running the teacher.
///
/// The cache must have been opened for the same dataset the batches index
/// (`TeacherEmbeddingCache.open` checks the dataset digest and record ids),
/// so cache row `i` is dataset record `i`.
public final class CachedTeacher: TeacherEmbeddingSource {
    public let cache: TeacherEmbeddingCache

    public init(cache: TeacherEmbeddingCache) {
        self.cache = cache
    }

    public var embeddingWidth: Int { cache.dim }

    public func embed(_ batch: TrainingBatch, rows: Range<Int>,
                      image: UnsafeMutableBufferPointer<Float>, text: UnsafeMutableBufferPointer<Float>) throws(TrainingError) {
        let d = cache.dim
        guard rows.lowerBound >= 0, rows.upperBound <= batch.indices.count else {
            throw .batchShape("rows \(rows) are outside a batch of \(batch.indices.count)")
        }
        guard image.count == rows.count * d, text.count == rows.count * d else {
            throw .batchShape("the teacher cache gives \(d) floats per row; the outputs hold \(image.count) and "
                + "\(text.count) for \(rows.count) rows")
        }
        guard let imageBase = image.baseAddress, let textBase = text.baseAddress else { return }
        for (row, batchRow) in rows.enumerated() {
            let index = batch.indices[batchRow]
            guard index >= 0, index < cache.count else {
                throw .teacher("dataset index \(index) is outside the teacher cache \(cache.path) of \(cache.count) records")
            }
            if let source = cache.imageEmbedding(index).baseAddress { (imageBase + row * d).update(from: source, count: d) }
            if let source = cache.textEmbedding(index).baseAddress { (textBase + row * d).update(from: source, count: d) }
        }
    }
}

extension TeacherEmbeddingCache {
    /// Opens the cache a config's `teacher_cache` section names, for
    /// `teacher` embedding `dataset` (digest `datasetDigest`). Under
    /// `on_stale: rebuild` a missing, corrupt or stale file is rebuilt in
    /// this process (for a faster parallel build, run `conaclip cache build
    /// --workers N` beforehand). `dataPath` and `split` only serve the
    /// rebuild command named in errors and the file's provenance.
    public static func open(
        config: TeacherCacheConfig, teacher: TeacherEmbedder, dataset: some PairDataset, datasetDigest: String,
        dataPath: String, split: String?
    ) throws(TeacherCacheError) -> TeacherEmbeddingCache {
        let key = TeacherCacheKey(teacher: teacher, dataset: dataset, datasetDigest: datasetDigest)
        let source = TeacherCacheSource(teacherPath: teacher.directory, dataPath: dataPath, split: split,
                                        chunkSize: TeacherEmbedder.chunkSize, blasCore: BLAS.coreName)
        return try open(path: config.path, expecting: key, policy: config.policy,
                        rebuildCommand: source.rebuildCommand(out: config.path)) { () throws(TeacherCacheError) in
            try TeacherCacheBuilder.write(teacher: teacher, dataset: dataset, datasetDigest: datasetDigest,
                                          to: config.path, source: source)
        }
    }
}
