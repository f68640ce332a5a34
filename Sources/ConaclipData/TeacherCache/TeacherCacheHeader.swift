import Crypto
import Foundation

/// The JSON header of a teacher-embedding cache file: its key, its shape,
/// the record ids it holds, the payload checksum, and where it came from.
///
/// A full cache holds every record (`sliceStart == 0`, `count == key.recordCount`);
/// a part file written by one `conaclip cache build-part` worker holds the
/// contiguous records `sliceStart ..< sliceStart + count` in the same format.
public struct TeacherCacheHeader: Codable, Equatable, Sendable {
    /// Always `conaclip-teacher-cache`.
    public var format: String
    public var key: TeacherCacheKey
    /// First dataset index held by this file.
    public var sliceStart: Int
    /// Records held by this file.
    public var count: Int
    /// Embedding width (the teacher's projection dimension).
    public var dim: Int
    /// Ids of the records held, in order.
    public var recordIDs: [String]
    /// What the embeddings are: raw projected tower outputs, not L2-normalised.
    public var embedding: String
    /// Bytes from the payload offset to the end of the file.
    public var payloadBytes: Int
    /// SHA-256 (hex) of those bytes.
    public var payloadSHA256: String
    /// Where the cache came from; informational, not part of the key.
    public var source: TeacherCacheSource

    public static let formatName = "conaclip-teacher-cache"
    /// The `embedding` value of this format version.
    public static let rawProjection = "raw-projection"

    public init(key: TeacherCacheKey, sliceStart: Int, count: Int, dim: Int, recordIDs: [String],
                payloadBytes: Int, payloadSHA256: String, source: TeacherCacheSource) {
        format = Self.formatName
        self.key = key; self.sliceStart = sliceStart; self.count = count; self.dim = dim
        self.recordIDs = recordIDs; embedding = Self.rawProjection
        self.payloadBytes = payloadBytes; self.payloadSHA256 = payloadSHA256; self.source = source
    }

    /// Whether the file holds the whole dataset rather than one worker's slice.
    public var isComplete: Bool { sliceStart == 0 && count == key.recordCount }

    enum CodingKeys: String, CodingKey {
        case format, key, sliceStart = "slice_start", count, dim, recordIDs = "record_ids", embedding
        case payloadBytes = "payload_bytes", payloadSHA256 = "payload_sha256", source
    }
}

/// How a cache was built, for `conaclip cache inspect` and for the rebuild
/// command in error messages. Not part of the key: the same teacher weights
/// in another directory give the same cache.
public struct TeacherCacheSource: Codable, Equatable, Sendable {
    public var teacherPath: String
    public var dataPath: String
    public var split: String?
    /// Records per forward pass, aligned to dataset indices (see `TeacherEmbedder.chunkSize`).
    public var chunkSize: Int
    /// The OpenBLAS kernel family that computed the embeddings (another one may round differently).
    public var blasCore: String

    public init(teacherPath: String, dataPath: String, split: String?, chunkSize: Int, blasCore: String) {
        self.teacherPath = teacherPath; self.dataPath = dataPath; self.split = split
        self.chunkSize = chunkSize; self.blasCore = blasCore
    }

    /// The command that rebuilds a cache at `path` from the same inputs.
    public func rebuildCommand(out path: String) -> String {
        TeacherCacheSource.rebuildCommand(teacher: teacherPath, data: dataPath, split: split, out: path)
    }

    /// `conaclip cache build --teacher T --data D [--split S] --out P`.
    public static func rebuildCommand(teacher: String, data: String, split: String?, out: String) -> String {
        var words = ["conaclip", "cache", "build", "--teacher", teacher, "--data", data]
        if let split { words += ["--split", split] }
        words += ["--out", out]
        return words.map(shellQuoted).joined(separator: " ")
    }

    /// `word` as one POSIX shell word (single-quoted unless plainly safe).
    public static func shellQuoted(_ word: String) -> String {
        let plain = word.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) || "-_./=:,+@%".unicodeScalars.contains($0)
        }
        if plain && !word.isEmpty { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    enum CodingKeys: String, CodingKey {
        case teacherPath = "teacher_path", dataPath = "data_path", split
        case chunkSize = "chunk_size", blasCore = "blas_core"
    }
}

/// The byte layout of a cache file (format version 1), all integers little-endian:
///
/// | offset | size | content |
/// | --- | --- | --- |
/// | 0 | 8 | magic `89 43 54 43 0D 0A 1A 0A` (`\x89CTC\r\n\x1a\n`) |
/// | 8 | 4 | format version, UInt32 (1) |
/// | 12 | 4 | flags, UInt32, must be 0 |
/// | 16 | 8 | header length H in bytes, UInt64 |
/// | 24 | 32 | SHA-256 of the header bytes |
/// | 56 | H | header: UTF-8 JSON (`TeacherCacheHeader`, sorted keys) |
/// | | | zero bytes up to the payload offset P = H + 56 rounded up to 64 |
/// | P | 4·count·dim | image embeddings [count, dim], float32 |
/// | | | zero bytes up to T = P + 4·count·dim rounded up to 64 |
/// | T | 4·count·dim | text embeddings [count, dim], float32; the file ends here |
///
/// `payload_bytes` = file size − P and `payload_sha256` covers those bytes
/// (padding included).
public enum TeacherCacheLayout {
    public static let magic: [UInt8] = [0x89, 0x43, 0x54, 0x43, 0x0D, 0x0A, 0x1A, 0x0A]
    public static let version: UInt32 = 1
    public static let prefixBytes = 56
    public static let alignment = 64
    /// Largest header accepted when reading (record ids of tens of millions of records fit).
    public static let maxHeaderBytes = 1 << 30

    public static func aligned(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    /// Byte offsets of a file with an `headerBytes`-byte header and `count`×`dim` embeddings per tower.
    public struct Offsets: Equatable, Sendable {
        public let payload: Int
        public let text: Int
        public let blockBytes: Int
        public var fileSize: Int { text + blockBytes }
        public var payloadBytes: Int { fileSize - payload }

        public init(headerBytes: Int, count: Int, dim: Int) {
            payload = TeacherCacheLayout.aligned(TeacherCacheLayout.prefixBytes + headerBytes)
            blockBytes = count * dim * MemoryLayout<Float>.size
            text = payload + TeacherCacheLayout.aligned(blockBytes)
        }
    }

    /// The header as the JSON bytes stored in the file.
    public static func encode(_ header: TeacherCacheHeader) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding these plain value types cannot fail.
        return (try? Array(encoder.encode(header))) ?? []
    }

    /// Writes the fixed prefix and the header into the start of `file`.
    static func writePrefix(header: [UInt8], into file: UnsafeMutableRawBufferPointer) {
        precondition(file.count >= prefixBytes + header.count, "file too small for its header")
        var bytes = magic
        withUnsafeBytes(of: version.littleEndian) { bytes += $0 }
        withUnsafeBytes(of: UInt32(0).littleEndian) { bytes += $0 }
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes += $0 }
        bytes += Array(SHA256.hash(data: header))
        bytes += header
        bytes.withUnsafeBytes { file.copyMemory(from: $0) }
    }

    /// Parses and checks the prefix and header of a mapped file, and its size
    /// against the header; the payload checksum is checked separately.
    static func readHeader(_ file: UnsafeRawBufferPointer, path: String,
                           rebuild: (TeacherCacheSource?) -> String) throws(TeacherCacheError) -> (TeacherCacheHeader, Offsets) {
        func corrupt(_ reason: String, _ source: TeacherCacheSource? = nil) -> TeacherCacheError {
            .corrupt(path: path, reason: reason, rebuild: rebuild(source))
        }
        guard file.count >= prefixBytes else {
            throw corrupt("\(file.count) bytes is shorter than the \(prefixBytes)-byte file prefix")
        }
        guard file.prefix(magic.count).elementsEqual(magic) else {
            throw corrupt("it does not start with the teacher-cache magic bytes; it is not a conaclip teacher cache")
        }
        let version = UInt32(littleEndian: file.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        guard version == Self.version else {
            throw .unsupportedVersion(path: path, found: version, supported: Self.version, rebuild: rebuild(nil))
        }
        let flags = UInt32(littleEndian: file.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        guard flags == 0 else { throw corrupt("unknown flags \(flags) in the file prefix") }
        let headerLength = UInt64(littleEndian: file.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        guard headerLength <= UInt64(maxHeaderBytes) else {
            throw corrupt("header length \(headerLength) exceeds the \(maxHeaderBytes)-byte limit")
        }
        let h = Int(headerLength)
        guard file.count >= prefixBytes + h else {
            throw corrupt("the file has \(file.count) bytes but its header ends at byte \(prefixBytes + h); the file is truncated")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: file[prefixBytes..<(prefixBytes + h)])
        let storedHash = UnsafeRawBufferPointer(rebasing: file[24..<56])
        guard SHA256.hash(data: headerBytes).elementsEqual(storedHash) else {
            throw corrupt("the header does not match its SHA-256")
        }
        let header: TeacherCacheHeader
        do {
            header = try JSONDecoder().decode(TeacherCacheHeader.self, from: Data(headerBytes))
        } catch {
            throw corrupt("the header is not a valid teacher-cache header: \(error)")
        }
        guard header.format == TeacherCacheHeader.formatName, header.embedding == TeacherCacheHeader.rawProjection else {
            throw corrupt("header format \"\(header.format)\" / embedding \"\(header.embedding)\" is not "
                          + "\"\(TeacherCacheHeader.formatName)\" / \"\(TeacherCacheHeader.rawProjection)\"", header.source)
        }
        guard header.count >= 0, header.dim > 0, header.dim <= 1 << 24, header.sliceStart >= 0, header.key.recordCount >= 0,
              header.sliceStart <= header.key.recordCount, header.count <= header.key.recordCount - header.sliceStart,
              header.recordIDs.count == header.count,
              header.count <= (Int.max / 64) / header.dim else {
            throw corrupt("the header's sizes are inconsistent (count \(header.count), dim \(header.dim), slice start "
                          + "\(header.sliceStart), \(header.recordIDs.count) record ids, \(header.key.recordCount) records)",
                          header.source)
        }
        let offsets = Offsets(headerBytes: h, count: header.count, dim: header.dim)
        guard header.payloadBytes == offsets.payloadBytes else {
            throw corrupt("the header says \(header.payloadBytes) payload bytes but \(header.count)x\(header.dim) "
                          + "embeddings take \(offsets.payloadBytes)", header.source)
        }
        guard file.count == offsets.fileSize else {
            let what = file.count < offsets.fileSize ? "truncated" : "longer than its header says"
            throw corrupt("the file has \(file.count) bytes but should have \(offsets.fileSize); it is \(what)", header.source)
        }
        if header.isComplete && TeacherCacheKey.recordIDsDigest(header.recordIDs) != header.key.recordIDsDigest {
            throw corrupt("the record ids do not match record_ids_digest", header.source)
        }
        return (header, offsets)
    }

    /// SHA-256 (hex) of the payload bytes.
    static func payloadDigest(_ file: UnsafeRawBufferPointer, offsets: Offsets) -> String {
        ModelDigest.hex(SHA256.hash(data: UnsafeRawBufferPointer(rebasing: file[offsets.payload..<offsets.fileSize])))
    }
}
