import Crypto
import Foundation

/// The content digest of a dataset, used by the teacher-embedding cache to
/// notice that a dataset changed.
///
/// It is SHA-256 over, in record order: a version tag, the record count,
/// then per record the length-prefixed UTF-8 id, the length-prefixed UTF-8
/// caption and the SHA-256 of the image's encoded bytes (read in 256 KiB
/// chunks from the file, the tar member or memory). It therefore depends on
/// exactly what the embeddings depend on, ids, captions, picture bytes and
/// order, and not on paths, timestamps, splits or the manifest format: the
/// same pairs as JSONL or as tar shards give the same digest on every machine.
extension PairDataset {
    /// Lower-case hex SHA-256 of the dataset's ids, captions and image bytes.
    public func datasetDigest() throws(DatasetError) -> String {
        var hasher = DatasetDigester()
        hasher.begin(count: count)
        for index in 0..<count {
            try hasher.add(record(at: index))
        }
        return hasher.finish()
    }
}

/// Streams records into the dataset digest with one reused read buffer.
struct DatasetDigester {
    static let versionTag = "conaclip-dataset-digest-v1\n"
    static let chunkSize = 1 << 18

    private var outer = SHA256()
    private var buffer = [UInt8](repeating: 0, count: DatasetDigester.chunkSize)

    mutating func begin(count: Int) {
        outer.update(data: Array(Self.versionTag.utf8))
        appendLength(count)
    }

    mutating func add(_ record: PairRecord) throws(DatasetError) {
        appendString(record.id)
        appendString(record.caption)
        let imageDigest = try imageSHA256(record)
        outer.update(data: imageDigest)
    }

    func finish() -> String {
        outer.finalize().map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    private mutating func appendLength(_ value: Int) {
        var little = UInt64(value).littleEndian
        withUnsafeBytes(of: &little) { outer.update(bufferPointer: $0) }
    }

    private mutating func appendString(_ text: String) {
        let bytes = Array(text.utf8)
        appendLength(bytes.count)
        outer.update(data: bytes)
    }

    /// SHA-256 of the record's encoded image bytes, streamed.
    private mutating func imageSHA256(_ record: PairRecord) throws(DatasetError) -> [UInt8] {
        var inner = SHA256()
        switch record.image {
        case let .bytes(bytes):
            inner.update(data: bytes)
        case let .file(path):
            let file: OpenFile
            do { file = try OpenFile(path: path) } catch {
                throw .missingImage(location: record.location, path: path)
            }
            defer { file.close() }
            var offset = 0
            while true {
                let n = try file.read(into: &buffer, at: offset)
                if n == 0 { break }
                buffer.withUnsafeBytes { inner.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                offset += n
            }
        case let .fileRange(path, start, length):
            let file = try OpenFile(path: path)
            defer { file.close() }
            var done = 0
            while done < length {
                let wanted = min(buffer.count, length - done)
                let n = try file.read(into: &buffer, at: start + done, count: wanted)
                guard n == wanted else {
                    throw .brokenImage(location: record.location,
                                       reason: "\(path) ends before the \(length) image bytes at offset \(start)")
                }
                buffer.withUnsafeBytes { inner.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                done += n
            }
        }
        return Array(inner.finalize())
    }
}
