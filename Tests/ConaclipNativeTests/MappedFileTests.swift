import Foundation
import Testing
import ConaclipNative

/// Mapped files and the one file error type every layer reports file-system
/// failures with.
@Suite struct MappedFileTests {
    static func scratchDirectory() throws -> String {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("conaclip-mapped-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.path
    }

    @Test func writtenBytesMapBackAfterCommit() throws {
        let directory = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/bytes.bin"
        let output = try MappedOutputFile(path: path, count: 5)
        for i in 0..<5 { output.bytes[i] = UInt8(10 * i + 1) }
        #expect(!FileManager.default.fileExists(atPath: path))
        try output.commit()
        let mapped = try MappedFile(path: path)
        withExtendedLifetime(mapped) { #expect(Array(mapped.bytes) == [1, 11, 21, 31, 41]) }
        #expect(throws: FileIOError.self) { try output.commit() }
    }

    @Test func failuresNameThePathTheOperationAndTheReason() throws {
        let directory = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let missing = directory + "/missing.bin"
        do {
            _ = try MappedFile(path: missing)
            Issue.record("a missing file mapped")
        } catch {
            #expect(error == FileIOError(path: missing, operation: "open", code: ENOENT))
            #expect(error.isNotFound)
            #expect(error.description == "cannot open \(missing): No such file or directory")
        }
        do {
            _ = try MappedFile(path: directory)
            Issue.record("a directory mapped")
        } catch {
            #expect(!error.isNotFound)
            #expect(error.description.hasPrefix("cannot map (not a regular file) \(directory): "), "\(error)")
        }
        // Code 0 stands for a file that ended before the bytes a reader needed.
        #expect(FileIOError(path: "/x", operation: "read", code: 0).description == "cannot read /x: unexpected end of file")
    }
}
