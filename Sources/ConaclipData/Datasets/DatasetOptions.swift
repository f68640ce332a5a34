import Foundation

/// The on-disk layouts `DatasetReader` understands.
public enum DatasetFormat: String, Sendable, Equatable, CaseIterable {
    /// One JSON object per line: `image` (relative to the manifest's
    /// directory), `caption`, optional `id`, `split`, `same_image_as`.
    case jsonl
    /// OpenCLIP's CSV: a header row, columns `filepath` and `title`
    /// (configurable), RFC 4180 quoting.
    case csv
    /// The same as `csv` with tabs between fields.
    case tsv
    /// EasyNLP's TSV: `id \t caption \t base64-image` per line, with or
    /// without a header row; images are held in memory.
    case base64TSV = "base64-tsv"
    /// WebDataset tar shards: `KEY.jpg|jpeg|png` and `KEY.txt` members, from
    /// one shard, a directory of shards, a brace or glob pattern, or several
    /// of those joined by `::`.
    case tar
    /// A directory of PNG/JPEG files (searched recursively, hidden entries
    /// skipped), e.g. a photo folder to search: the id is the path relative
    /// to the directory, the caption the file name without its extension
    /// (`_` and `-` read as spaces). No split information.
    case imageFolder = "image-folder"

    /// The format implied by `path`: its extension, a directory (of tar
    /// shards, else of images when it holds no `.tar` file but some image)
    /// or a shard pattern. For `.tsv` the first line decides between
    /// OpenCLIP's columns (`imageColumn` in the header) and EasyNLP's base64
    /// layout.
    public static func detect(path: String, imageColumn: String = DatasetOptions.defaultImageColumn)
        throws(DatasetError) -> DatasetFormat {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return ImageFolderReader.looksLikeImageFolder(path) ? .imageFolder : .tar
        }
        let lower = path.lowercased()
        if lower.contains("::") || ShardList.isPattern(path) {
            if lower.hasSuffix(".tar") || lower.hasSuffix(".tar}") { return .tar }
            throw .unsupportedFormat(path: path, reason: "a shard pattern must name .tar files")
        }
        if lower.hasSuffix(".jsonl") { return .jsonl }
        if lower.hasSuffix(".csv") { return .csv }
        if lower.hasSuffix(".tar") { return .tar }
        if lower.hasSuffix(".tsv") {
            let firstLine = try DatasetFiles.firstLine(of: path)
            let header = firstLine.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return header.contains(imageColumn) ? .tsv : .base64TSV
        }
        throw .unsupportedFormat(
            path: path,
            reason: "cannot tell the dataset format from the name; use .jsonl, .csv, .tsv, .tar, a directory "
                + "of .tar shards or of pictures, or name the format (jsonl, csv, tsv, base64-tsv, tar, image-folder)")
    }
}

/// How `DatasetReader.open` reads a dataset. The defaults read OpenCLIP-style
/// CSV/TSV columns, keep every split and stop at the first bad record.
public struct DatasetOptions: Sendable, Equatable {
    public static let defaultImageColumn = "filepath"
    public static let defaultCaptionColumn = "title"

    /// The format, or nil to detect it from the path.
    public var format: DatasetFormat?
    /// Keep only records of this split (`train`, `val`, `test`); nil keeps all.
    public var split: String?
    /// What to do with bad records (config key `on_bad_record`).
    public var onBadRecord: BadRecordPolicy
    /// CSV/TSV column holding the image path.
    public var imageColumn: String
    /// CSV/TSV column holding the caption.
    public var captionColumn: String
    /// CSV/TSV column holding the record id, used when present (else the line number).
    public var idColumn: String
    /// CSV/TSV column holding the split, used when present.
    public var splitColumn: String
    /// Base64 TSV: whether the first line is a header; nil guesses from its
    /// fields (a header names its columns, e.g. `id`, `caption`, `image`).
    public var base64Header: Bool?
    /// Stat every image file at open time so missing ones are bad records
    /// before training starts.
    public var checkImageFiles: Bool
    /// Decode every image at open time, so broken image bytes are handled by
    /// `onBadRecord` up front instead of at decode time (costs a full decode pass).
    public var verifyImages: Bool
    /// Images larger than this on either side are refused as broken.
    public var maxImageDimension: Int

    public init(format: DatasetFormat? = nil, split: String? = nil, onBadRecord: BadRecordPolicy = .stop,
                imageColumn: String = DatasetOptions.defaultImageColumn,
                captionColumn: String = DatasetOptions.defaultCaptionColumn,
                idColumn: String = "id", splitColumn: String = "split", base64Header: Bool? = nil,
                checkImageFiles: Bool = true, verifyImages: Bool = false,
                maxImageDimension: Int = ImageCodec.defaultMaxDimension) {
        self.format = format
        self.split = split
        self.onBadRecord = onBadRecord
        self.imageColumn = imageColumn
        self.captionColumn = captionColumn
        self.idColumn = idColumn
        self.splitColumn = splitColumn
        self.base64Header = base64Header
        self.checkImageFiles = checkImageFiles
        self.verifyImages = verifyImages
        self.maxImageDimension = maxImageDimension
    }

    func validate() throws(DatasetError) {
        guard maxImageDimension >= 1 else {
            throw .invalidOption(name: "maxImageDimension", reason: "must be positive, got \(maxImageDimension)")
        }
        for (name, value) in [("imageColumn", imageColumn), ("captionColumn", captionColumn)] where value.isEmpty {
            throw .invalidOption(name: name, reason: "must not be empty")
        }
        if let split, split.isEmpty {
            throw .invalidOption(name: "split", reason: "must not be empty (use nil to keep every split)")
        }
    }
}
