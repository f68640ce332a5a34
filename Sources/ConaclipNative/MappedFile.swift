import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole regular file mapped read-only into memory, for large files read
/// in place (the teacher-embedding cache, byte ranges of tar shards).
///
/// The mapping stays valid while the object lives. A file that another
/// process truncates while it is mapped raises SIGBUS on access; files this
/// project maps are only ever replaced by rename (see `MappedOutputFile`),
/// never rewritten in place, so that does not happen to them.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    /// Size of the file in bytes when it was mapped.
    public let count: Int
    private let base: UnsafeRawPointer?

    /// Maps `path`; only regular files are accepted. An empty file maps to an empty buffer.
    public init(path: String) throws(FileIOError) {
        self.path = path
        let (fd, size) = try RegularFile.openForReading(path, operation: "map")
        defer { close(fd) }
        count = size
        if count == 0 {
            base = nil
            return
        }
        guard let region = mmap(nil, count, PROT_READ, MAP_SHARED, fd, 0), region != MAP_FAILED else {
            throw .last("map", path)
        }
        base = UnsafeRawPointer(region)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// The file's bytes; valid while `self` is alive.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// A new file of a fixed size, written through a writable memory mapping and
/// installed atomically: the bytes go to a hidden staging sibling whose
/// blocks are reserved up front (so a full disk is an error here, not a
/// SIGBUS later), and `commit()` flushes the mapping, fsyncs the file,
/// renames it over `path` and fsyncs the directory. A crash leaves the old
/// file or the new one, never a partial one. Dropping the object without
/// committing removes the staging file.
public final class MappedOutputFile {
    public let path: String
    public let stagingPath: String
    public let count: Int
    private var fd: Int32
    private var base: UnsafeMutableRawPointer?

    /// Creates the staging file for `path` with `count` zero bytes, mapped writable.
    public init(path: String, count: Int) throws(FileIOError) {
        precondition(count >= 0, "a file size cannot be negative")
        self.path = path
        self.count = count
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        stagingPath = ((directory.isEmpty ? "." : directory) as NSString)
            .appendingPathComponent(".\(name).tmp-\(getpid())-\(suffix)")
        fd = open(stagingPath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .last("create", stagingPath) }
        if count > 0 {
            let reserved = posix_fallocate(fd, 0, off_t(count))
            if reserved != 0 {
                cleanUp()
                throw FileIOError(path: stagingPath, operation: "reserve \(count) bytes for", code: reserved)
            }
            guard let region = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), region != MAP_FAILED else {
                let error = FileIOError.last("map", stagingPath)
                cleanUp()
                throw error
            }
            base = region
        }
    }

    deinit { cleanUp() }

    /// The file's bytes to fill; valid until `commit()` or until the object is dropped.
    public var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: base == nil ? 0 : count) }

    /// Flushes and installs the file at `path` (replacing any file there).
    public func commit() throws(FileIOError) {
        guard fd >= 0 else { throw FileIOError(path: path, operation: "commit (already committed or failed)", code: EBADF) }
        if let base {
            guard msync(base, count, MS_SYNC) == 0 else { throw .last("flush", stagingPath) }
            munmap(base, count)
            self.base = nil
        }
        guard fsync(fd) == 0 else { throw .last("fsync", stagingPath) }
        let closed = close(fd)
        fd = -1
        guard closed == 0 else {
            let error = FileIOError.last("close", stagingPath)
            unlink(stagingPath)
            throw error
        }
        guard rename(stagingPath, path) == 0 else {
            let error = FileIOError.last("rename to \(path)", stagingPath)
            unlink(stagingPath)
            throw error
        }
        let directory = (path as NSString).deletingLastPathComponent
        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else { throw .last("open directory", directory) }
        defer { close(directoryFD) }
        guard fsync(directoryFD) == 0 else { throw .last("fsync directory", directory) }
    }

    private func cleanUp() {
        if let base { munmap(base, count); self.base = nil }
        if fd >= 0 {
            close(fd)
            fd = -1
            unlink(stagingPath)
        }
    }
}
