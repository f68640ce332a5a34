import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Read-only opening of regular files, shared by `MappedFile` and the model
/// layer's file reader.
public enum RegularFile {
    /// Opens `path` read-only and returns its descriptor (the caller closes
    /// it) and its size. Anything but a regular file (a directory, a device,
    /// a pipe) is refused as "`operation` (not a regular file)".
    public static func openForReading(_ path: String,
                                      operation: String) throws(FileIOError) -> (descriptor: Int32, size: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .last("open", path) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = FileIOError.last("stat", path)
            close(fd)
            throw error
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw FileIOError(path: path, operation: "\(operation) (not a regular file)", code: EINVAL)
        }
        return (fd, Int(info.st_size))
    }
}
