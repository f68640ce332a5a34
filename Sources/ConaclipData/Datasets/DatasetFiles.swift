import Foundation

/// File helpers shared by the dataset readers: whole-file reads, positioned
/// reads for tar members, stat checks and path resolution, all reporting
/// errno as a readable `DatasetError`.
enum DatasetFiles {
    /// The whole file.
    static func readAll(_ path: String) throws(DatasetError) -> [UInt8] {
        do {
            return try ImageCodec.readFile(path)
        } catch {
            throw .unreadable(path: path, reason: error.detail.isEmpty ? "\(error)" : error.detail)
        }
    }

    /// The first line of a text file (without the newline and any UTF-8 BOM),
    /// reading at most 64 KiB.
    static func firstLine(of path: String) throws(DatasetError) -> String {
        let file = try OpenFile(path: path)
        defer { file.close() }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let n = try file.read(into: &buffer, at: 0)
        var line = buffer[0..<n]
        if let newline = line.firstIndex(of: 0x0A) { line = line[..<newline] }
        if line.last == 0x0D { line = line.dropLast() }
        if line.starts(with: [0xEF, 0xBB, 0xBF]) { line = line.dropFirst(3) }
        return String(decoding: line, as: UTF8.self)
    }

    /// Whether `path` names an existing regular file (following symlinks).
    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// Whether `path` names an existing directory.
    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// `path` if absolute, else `path` relative to `directory`.
    static func resolve(_ path: String, relativeTo directory: String) -> String {
        if path.hasPrefix("/") || directory.isEmpty { return path }
        return directory.hasSuffix("/") ? directory + path : directory + "/" + path
    }

    /// The directory part of a file path ("" for a bare file name).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// Lines of `bytes` split at LF (a CR before the LF is dropped), with
    /// their 1-based line numbers; a UTF-8 BOM at the start is dropped.
    static func lines(_ bytes: [UInt8]) -> [(number: Int, bytes: ArraySlice<UInt8>)] {
        var result: [(Int, ArraySlice<UInt8>)] = []
        let bom = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var start = bom
            var number = 1
            while start < buffer.count {
                let found = memchr(base + start, 0x0A, buffer.count - start)
                let end: Int = found.map { UnsafeRawPointer($0) - UnsafeRawPointer(base) } ?? buffer.count
                var stop = end
                if stop > start && base[stop - 1] == 0x0D { stop -= 1 }
                result.append((number, bytes[start..<stop]))
                number += 1
                start = end + 1
            }
        }
        return result
    }

    /// Whether a byte slice is empty or only ASCII whitespace.
    static func isBlank(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }
    }
}

/// A read-only file descriptor with positioned, EINTR-safe reads.
struct OpenFile {
    let path: String
    let descriptor: Int32

    init(path: String) throws(DatasetError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        var info = stat()
        if fstat(fd, &info) != 0 || (info.st_mode & S_IFMT) != S_IFREG {
            closeDescriptor(fd)
            throw .unreadable(path: path, reason: "not a regular file")
        }
        self.path = path
        self.descriptor = fd
    }

    /// The file's size in bytes.
    func size() throws(DatasetError) -> Int {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        return Int(info.st_size)
    }

    /// Reads up to `buffer.count` bytes at `offset`; returns how many were
    /// read (fewer only at the end of the file).
    func read(into buffer: inout [UInt8], at offset: Int, count: Int? = nil) throws(DatasetError) -> Int {
        let wanted = min(count ?? buffer.count, buffer.count)
        var done = 0
        while done < wanted {
            let n = buffer.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return pread(descriptor, base + done, wanted - done, off_t(offset + done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Exactly `count` bytes at `offset`, or nil if the file ends first.
    func bytes(at offset: Int, count: Int) throws(DatasetError) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        let n = try read(into: &buffer, at: offset)
        return n == count ? buffer : nil
    }

    func close() { closeDescriptor(descriptor) }
}

/// `close(2)`, named apart from `OpenFile.close()` so the method can call it.
@inline(__always)
private func closeDescriptor(_ fd: Int32) {
    _ = Foundation.close(fd)
}
