/// Where a record's image bytes live.
public enum ImageSource: Sendable, Hashable {
    /// A PNG or JPEG file.
    case file(path: String)
    /// A byte range of a file (a member of a tar shard).
    case fileRange(path: String, offset: Int, length: Int)
    /// Bytes held in memory (e.g. decoded from base64 in a TSV line).
    case bytes([UInt8])
}

/// One image-text pair of a dataset, as read from its manifest.
public struct PairRecord: Sendable, Hashable {
    /// Stable identifier (the manifest's `id`, a tar key, or the line number).
    public var id: String
    public var image: ImageSource
    public var caption: String
    /// `train`, `val` or `test` when the manifest says so.
    public var split: String?
    /// Ids of other records whose picture is identical (retrieval counts them as hits).
    public var sameImageAs: [String]
    /// Where the record came from, for error messages: `FILE:LINE` or `SHARD:MEMBER`.
    public var location: String

    public init(id: String, image: ImageSource, caption: String, split: String? = nil,
                sameImageAs: [String] = [], location: String) {
        self.id = id; self.image = image; self.caption = caption
        self.split = split; self.sameImageAs = sameImageAs; self.location = location
    }
}

/// A finite, indexable collection of image-text pairs. Records are cheap
/// (captions and image locations); images are decoded on demand.
public protocol PairDataset: Sendable {
    /// A human-readable name (usually the manifest path).
    var name: String { get }
    var count: Int { get }
    func record(at index: Int) -> PairRecord
}
