import Foundation

/// Reads WebDataset-style tar shards: members are grouped by key (the member
/// path up to the first `.` of its file name), a sample is `KEY.jpg`,
/// `KEY.jpeg` or `KEY.png` plus `KEY.txt` (UTF-8 caption, surrounding
/// whitespace trimmed); other members (`.json`, `.cls`, ...) are ignored.
/// A key without exactly one image or without a caption is a bad record, as
/// is a damaged shard (the samples before the damage are kept under
/// `skip`). Records point at the image member as `ImageSource.fileRange`,
/// their id is the key and their location `SHARD:MEMBER`.
enum WebDatasetReader {
    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]
    static let captionExtension = "txt"
    /// Largest caption member read (a guard against a mislabelled huge member).
    static let maxCaptionBytes = 1 << 20

    static func read(spec: String, options: DatasetOptions) throws(DatasetError) -> OpenedDataset {
        let shards = try ShardList.expand(spec)
        var collector = RecordCollector(path: spec, options: options)
        for shard in shards {
            try readShard(shard, into: &collector)
        }
        return try collector.finish(format: .tar)
    }

    private struct Sample {
        var images: [TarMember] = []
        var captions: [TarMember] = []
        var names: [String] = []
    }

    private static func readShard(_ shard: String, into collector: inout RecordCollector) throws(DatasetError) {
        let listing = try TarArchive.list(path: shard)
        // A damaged shard is reported first, so that under `stop` the root
        // cause is what the user sees (not the incomplete sample it leaves).
        if let problem = listing.problem { try collector.reject(problem) }
        var order: [String] = []
        var samples: [String: Sample] = [:]
        for member in listing.members {
            guard let (key, fileExtension) = split(member.name) else { continue }
            if samples[key] == nil { order.append(key) }
            var sample = samples[key] ?? Sample()
            sample.names.append(member.name)
            if imageExtensions.contains(fileExtension) { sample.images.append(member) }
            if fileExtension == captionExtension { sample.captions.append(member) }
            samples[key] = sample
        }
        guard !order.isEmpty || listing.problem != nil else {
            throw .noShards(pattern: shard, reason: "the shard holds no KEY.jpg/KEY.png + KEY.txt samples")
        }
        let file = try OpenFile(path: shard)
        defer { file.close() }
        for key in order {
            guard let sample = samples[key] else { continue }
            let location = "\(shard):\(key)"
            let members = sample.names.joined(separator: ", ")
            guard sample.images.count == 1, let image = sample.images.first else {
                let reason = sample.images.isEmpty
                    ? "sample \(key) has no .jpg, .jpeg or .png image (members: \(members))"
                    : "sample \(key) has \(sample.images.count) images (members: \(members)); keep one"
                try collector.reject(.incompleteSample(location: location, reason: reason))
                continue
            }
            guard sample.captions.count == 1, let captionMember = sample.captions.first else {
                let reason = sample.captions.isEmpty
                    ? "sample \(key) has no .txt caption (members: \(members))"
                    : "sample \(key) has \(sample.captions.count) captions (members: \(members)); keep one"
                try collector.reject(.incompleteSample(location: location, reason: reason))
                continue
            }
            let captionLocation = "\(shard):\(captionMember.name)"
            guard captionMember.size <= maxCaptionBytes else {
                try collector.reject(.malformedRow(location: captionLocation,
                                                   reason: "caption of \(captionMember.size) bytes exceeds \(maxCaptionBytes)"))
                continue
            }
            guard let bytes = try file.bytes(at: captionMember.dataOffset, count: captionMember.size),
                  let text = String(bytes: bytes, encoding: .utf8) else {
                try collector.reject(.malformedRow(location: captionLocation, reason: "caption is not valid UTF-8"))
                continue
            }
            let caption = text.trimmingCharacters(in: .whitespacesAndNewlines)
            let record = PairRecord(id: key,
                                    image: .fileRange(path: shard, offset: image.dataOffset, length: image.size),
                                    caption: caption, location: "\(shard):\(image.name)")
            try collector.accept(record)
        }
    }

    /// `(key, extension)` of a member name: the extension is everything after
    /// the first `.` of the file name, lower-cased. Nil for names without one
    /// and for hidden files.
    static func split(_ name: String) -> (key: String, fileExtension: String)? {
        let fileNameStart = name.lastIndex(of: "/").map { name.index(after: $0) } ?? name.startIndex
        let fileName = name[fileNameStart...]
        guard !fileName.hasPrefix("."), let dot = fileName.firstIndex(of: ".") else { return nil }
        let key = String(name[..<dot])
        let fileExtension = String(name[name.index(after: dot)...]).lowercased()
        guard !fileExtension.isEmpty else { return nil }
        return (key, fileExtension)
    }
}
