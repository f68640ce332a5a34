import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The read-only bytes of a whole file: memory mapped when the system allows
/// it, otherwise read with one allocation. Only regular files are accepted.
///
/// A mapped file that another process truncates while it is mapped raises
/// SIGBUS on access; checkpoints are only ever replaced by rename, never
/// truncated in place, so that does not happen to files this project writes.
final class FileBytes: @unchecked Sendable {
    let path: String
    let count: Int
    private let base: UnsafeRawPointer?
    private let mapped: Bool

    init(path: String) throws(FileIOError) {
        self.path = path
        let (fd, size) = try RegularFile.openForReading(path, operation: "read")
        defer { close(fd) }
        count = size
        if size == 0 {
            base = nil; mapped = false
            return
        }
        if let region = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), region != MAP_FAILED {
            base = UnsafeRawPointer(region); mapped = true
            return
        }
        // Fallback: one read into one allocation.
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        var done = 0
        while done < size {
            let n = read(fd, buffer + done, size - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let code = n < 0 ? errno : 0
                buffer.deallocate()
                throw FileIOError(path: path, operation: "read", code: code)
            }
            done += n
        }
        base = UnsafeRawPointer(buffer); mapped = false
    }

    deinit {
        guard let base else { return }
        if mapped {
            munmap(UnsafeMutableRawPointer(mutating: base), count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }

    /// The bytes; valid while `self` is alive.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// A file being written: opened exclusively (never clobbering), written in
/// full despite short writes and interrupts, flushed to disk and closed.
struct OutputFile: ~Copyable {
    let path: String
    private var fd: Int32

    init(creating path: String) throws(FileIOError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .last("create", path) }
    }

    deinit { if fd >= 0 { close(fd) } }

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws(FileIOError) {
        guard let start = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = Foundation.write(fd, start + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .last("write", path) }
            done += n
        }
    }

    mutating func write(_ bytes: [UInt8]) throws(FileIOError) {
        var failure: FileIOError?
        bytes.withUnsafeBytes { raw in
            do throws(FileIOError) { try write(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Flushes to stable storage and closes; the file is complete after this.
    consuming func finish() throws(FileIOError) {
        guard fsync(fd) == 0 else { throw .last("fsync", path) }
        let result = close(fd)
        fd = -1
        guard result == 0 else { throw .last("close", path) }
    }
}

/// File-system steps for replacing files and directories atomically.
enum FileSystem {
    /// Whether something (file, directory or link) exists at `path`.
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    static func parent(of path: String) -> String {
        let parent = (path as NSString).deletingLastPathComponent
        return parent.isEmpty ? "." : parent
    }

    static func name(of path: String) -> String { (path as NSString).lastPathComponent }

    static func join(_ directory: String, _ name: String) -> String {
        (directory as NSString).appendingPathComponent(name)
    }

    /// A unique hidden sibling of `path` for staging, e.g. `dir/.name.tmp-1234-ab12cd`.
    static func stagingSibling(of path: String, tag: String) -> String {
        let random = UInt64.random(in: 0...UInt64.max)
        let suffix = String(random, radix: 36)
        return join(parent(of: path), ".\(name(of: path)).\(tag)-\(getpid())-\(suffix)")
    }

    /// Flushes a directory's entries (new names, renames) to stable storage.
    static func syncDirectory(_ path: String) throws(FileIOError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .last("open directory", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .last("fsync directory", path) }
    }

    static func makeDirectory(_ path: String) throws(FileIOError) {
        guard mkdir(path, 0o755) == 0 else { throw .last("create directory", path) }
    }

    static func rename(_ from: String, to: String) throws(FileIOError) {
        guard Foundation.rename(from, to) == 0 else { throw .last("rename to \(to)", from) }
    }

    /// Best-effort recursive removal, used to clean up staging areas.
    static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes a file atomically: into a staging sibling that is fsynced and
    /// then renamed over `path`, followed by an fsync of the directory. A
    /// crash leaves either the old file or the new one, never a partial one.
    static func writeAtomically(
        _ path: String, _ body: (inout OutputFile) throws(FileIOError) -> Void
    ) throws(FileIOError) {
        let staging = stagingSibling(of: path, tag: "tmp")
        do {
            var file = try OutputFile(creating: staging)
            try body(&file)
            try file.finish()
            try rename(staging, to: path)
            try syncDirectory(parent(of: path))
        } catch {
            unlink(staging)
            throw error
        }
    }

    /// Copies a regular file into a new file and flushes it.
    static func copyFile(_ source: String, to destination: String) throws(FileIOError) {
        let bytes = try FileBytes(path: source)
        var out = try OutputFile(creating: destination)
        try out.write(bytes.bytes)
        try out.finish()
    }
}
