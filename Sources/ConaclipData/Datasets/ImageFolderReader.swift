import Foundation

/// Reads a directory of pictures as a dataset (`DatasetFormat.imageFolder`):
/// every `.png`, `.jpg` and `.jpeg` file below the directory (recursively;
/// names starting with `.` are skipped, directories included), in ascending
/// UTF-8 order of the relative path. The id is the relative path and the
/// caption the file name without its extension, with `_` and `-` read as
/// spaces, so a folder of photos can be searched and its results labelled.
/// A folder has no split information: asking for a split is an error.
enum ImageFolderReader {
    /// File name extensions (lower case) taken as pictures.
    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

    /// Whether `path` is a directory without `.tar` shards at its top level
    /// that holds at least one picture (at any depth).
    static func looksLikeImageFolder(_ path: String) -> Bool {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return false }
        if names.contains(where: { !$0.hasPrefix(".") && $0.lowercased().hasSuffix(".tar") }) { return false }
        return !(imagePaths(in: path, limit: 1)).isEmpty
    }

    static func read(path: String, options: DatasetOptions) throws(DatasetError) -> OpenedDataset {
        guard DatasetFiles.isDirectory(path) else {
            throw .unreadable(path: path, reason: "an image folder must be a directory")
        }
        var collector = RecordCollector(path: path, options: options)
        for relative in imagePaths(in: path, limit: nil) {
            let file = DatasetFiles.resolve(relative, relativeTo: path)
            let record = PairRecord(id: relative, image: .file(path: file), caption: caption(forFile: relative),
                                    location: file)
            try collector.accept(record)
        }
        return try collector.finish(format: .imageFolder)
    }

    /// The caption of a picture at `relativePath`: its file name without the
    /// extension, `_` and `-` replaced by spaces (the bare name if that
    /// leaves only spaces).
    static func caption(forFile relativePath: String) -> String {
        let name = (relativePath as NSString).lastPathComponent
        let stem = (name as NSString).deletingPathExtension
        let spaced = String(stem.map { $0 == "_" || $0 == "-" ? " " : $0 })
        return spaced.allSatisfy(\.isWhitespace) ? stem : spaced
    }

    /// Relative paths of the pictures below `directory`, sorted; at most
    /// `limit` when given (then in enumeration order, for a quick check).
    private static func imagePaths(in directory: String, limit: Int?) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var found: [String] = []
        while let entry = walker.nextObject() as? String {
            let name = (entry as NSString).lastPathComponent
            if name.hasPrefix(".") {
                walker.skipDescendants()
                continue
            }
            guard imageExtensions.contains((name as NSString).pathExtension.lowercased()),
                  DatasetFiles.isRegularFile(DatasetFiles.resolve(entry, relativeTo: directory)) else { continue }
            found.append(entry)
            if let limit, found.count >= limit { return found }
        }
        return found.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }
}
