import Crypto
import Foundation

/// Writes teacher-embedding cache files: a whole cache or one worker's part
/// file computed in this process, and the merge of part files into a whole
/// cache. Every file is written through `MappedOutputFile` (staging file,
/// fsync, rename), so a crash never leaves a partial cache at the final path.
public enum TeacherCacheBuilder {
    /// `count` records cut into at most `parts` contiguous slices whose starts
    /// are multiples of `alignment` (so every record is embedded in the same
    /// chunk whatever the number of parts), as even as that allows. Empty
    /// slices are left out.
    public static func slices(count: Int, parts: Int, alignment: Int = TeacherEmbedder.chunkSize) -> [Range<Int>] {
        guard count > 0 else { return [] }
        let chunks = (count + alignment - 1) / alignment
        let n = max(1, min(parts, chunks))
        var out: [Range<Int>] = []
        for part in 0..<n {
            let lower = min(count, chunks * part / n * alignment)
            let upper = min(count, chunks * (part + 1) / n * alignment)
            if lower < upper { out.append(lower..<upper) }
        }
        return out
    }

    /// Embeds `records` (default: all) of `dataset` with `teacher` and writes
    /// them to `path` atomically: a whole cache when `records` covers the
    /// dataset, else a part file for `merge`. Returns the header written.
    @discardableResult
    public static func write(
        teacher: TeacherEmbedder, dataset: some PairDataset, datasetDigest: String,
        records: Range<Int>? = nil, to path: String, source: TeacherCacheSource
    ) throws(TeacherCacheError) -> TeacherCacheHeader {
        let slice = records ?? 0..<dataset.count
        guard slice.lowerBound >= 0, slice.upperBound <= dataset.count else {
            throw .invalidSlice(start: slice.lowerBound, end: slice.upperBound, count: dataset.count)
        }
        let key = TeacherCacheKey(teacher: teacher, dataset: dataset, datasetDigest: datasetDigest)
        let ids = slice.map { dataset.record(at: $0).id }
        let d = teacher.dim
        return try writeFile(path: path, key: key, sliceStart: slice.lowerBound, ids: ids, dim: d,
                             source: source) { (payload: UnsafeMutableRawBufferPointer, offsets) throws(TeacherCacheError) in
            guard let base = payload.baseAddress else { return }
            let rows = slice.count * d
            let images = (base + offsets.payload).assumingMemoryBound(to: Float.self)
            let texts = (base + offsets.text).assumingMemoryBound(to: Float.self)
            try teacher.embed(dataset, records: slice,
                              images: UnsafeMutableBufferPointer(start: images, count: rows),
                              texts: UnsafeMutableBufferPointer(start: texts, count: rows))
            #if _endian(big)
            for i in 0..<rows { images[i] = Float(bitPattern: images[i].bitPattern.littleEndian) }
            for i in 0..<rows { texts[i] = Float(bitPattern: texts[i].bitPattern.littleEndian) }
            #endif
        }
    }

    /// Merges part files (any order) into a whole cache at `path`. Each part
    /// is verified in full (checksums); they must share one key, width and
    /// build recipe and together hold records `0..<recordCount` exactly once.
    /// The result is byte for byte what `write` gives for the whole dataset.
    @discardableResult
    public static func merge(parts paths: [String], into path: String) throws(TeacherCacheError) -> TeacherCacheHeader {
        var parts: [TeacherEmbeddingCache] = []
        for partPath in paths { parts.append(try TeacherEmbeddingCache.inspect(path: partPath, verifyPayload: true)) }
        guard let first = parts.first else { throw .parts("no part files were given") }
        parts.sort { $0.header.sliceStart < $1.header.sliceStart }
        var next = 0
        var ids: [String] = []
        ids.reserveCapacity(first.header.key.recordCount)
        for part in parts {
            let h = part.header
            guard h.key == first.header.key, h.dim == first.header.dim, h.source == first.header.source else {
                throw .parts("\(part.path) was built with another key, width or recipe than \(first.path)")
            }
            guard h.sliceStart == next else {
                throw .parts("\(part.path) starts at record \(h.sliceStart) but the parts before it end at \(next)")
            }
            next += h.count
            ids += h.recordIDs
        }
        let key = first.header.key
        guard next == key.recordCount else {
            throw .parts("the parts hold records 0..<\(next) of \(key.recordCount)")
        }
        guard TeacherCacheKey.recordIDsDigest(ids) == key.recordIDsDigest else {
            throw .parts("the record ids of the parts do not match the key's record_ids_digest")
        }
        let d = first.header.dim
        return try writeFile(path: path, key: key, sliceStart: 0, ids: ids, dim: d,
                             source: first.header.source) { (file: UnsafeMutableRawBufferPointer, offsets) throws(TeacherCacheError) in
            guard let base = file.baseAddress else { return }
            var row = 0
            for part in parts {
                let bytes = part.count * d * MemoryLayout<Float>.size
                let source = part.imageEmbeddings.baseAddress.map(UnsafeRawPointer.init)
                let sourceText = part.textEmbeddings.baseAddress.map(UnsafeRawPointer.init)
                if let source, let sourceText, bytes > 0 {
                    (base + offsets.payload + row * d * 4).copyMemory(from: source, byteCount: bytes)
                    (base + offsets.text + row * d * 4).copyMemory(from: sourceText, byteCount: bytes)
                }
                row += part.count
            }
        }
    }

    /// Lays out a file for `ids.count` x `dim` embeddings, lets `fill` write
    /// the two embedding blocks into the mapped file, then writes the header
    /// with the payload checksum and installs the file.
    private static func writeFile(
        path: String, key: TeacherCacheKey, sliceStart: Int, ids: [String], dim: Int, source: TeacherCacheSource,
        fill: (UnsafeMutableRawBufferPointer, TeacherCacheLayout.Offsets) throws(TeacherCacheError) -> Void
    ) throws(TeacherCacheError) -> TeacherCacheHeader {
        let placeholder = String(repeating: "0", count: 64)
        let blockBytes = ids.count * dim * MemoryLayout<Float>.size
        var header = TeacherCacheHeader(key: key, sliceStart: sliceStart, count: ids.count, dim: dim, recordIDs: ids,
                                        payloadBytes: TeacherCacheLayout.aligned(blockBytes) + blockBytes,
                                        payloadSHA256: placeholder, source: source)
        let draft = TeacherCacheLayout.encode(header)
        let offsets = TeacherCacheLayout.Offsets(headerBytes: draft.count, count: ids.count, dim: dim)
        let output: MappedOutputFile
        do { output = try MappedOutputFile(path: path, count: offsets.fileSize) } catch { throw .io(error) }
        let file = output.bytes
        try fill(file, offsets)
        header.payloadSHA256 = TeacherCacheLayout.payloadDigest(UnsafeRawBufferPointer(file), offsets: offsets)
        let final = TeacherCacheLayout.encode(header)
        // Only the fixed-length checksum changed, so the header keeps its length.
        precondition(final.count == draft.count, "teacher cache header changed length when its checksum was filled in")
        TeacherCacheLayout.writePrefix(header: final, into: file)
        do { try output.commit() } catch { throw .io(error) }
        return header
    }
}
