import Foundation

/// Reads EasyNLP-style TSV files whose lines are `id \t caption \t
/// base64-image` (no quoting: the fields hold no tabs). An optional header
/// row is recognised by its names (`id`, `caption`/`text`, `image`/...), or
/// forced with `DatasetOptions.base64Header`. Images are decoded from base64
/// at open time and held in memory as `ImageSource.bytes`; their pixels are
/// decoded only by `loadImage`.
enum Base64TSVReader {
    static let headerIdNames: Set<String> = ["id", "key", "image_id", "text_id", "sample_id"]
    static let headerImageNames: Set<String> = ["image", "img", "images", "imgs", "image_base64", "base64",
                                                "base64_image", "img_base64"]

    static func read(path: String, options: DatasetOptions) throws(DatasetError) -> OpenedDataset {
        let bytes = try DatasetFiles.readAll(path)
        var collector = RecordCollector(path: path, options: options)
        var first = true
        for (number, line) in DatasetFiles.lines(bytes) where !DatasetFiles.isBlank(line) {
            let location = "\(path):\(number)"
            let fields = line.split(separator: 0x09, omittingEmptySubsequences: false)
            if first {
                first = false
                if options.base64Header ?? looksLikeHeader(fields) { continue }
            }
            guard fields.count == 3 else {
                try collector.reject(.malformedRow(
                    location: location,
                    reason: "\(fields.count) tab-separated fields, expected 3 (id, caption, base64 image)"))
                continue
            }
            guard let id = String(bytes: fields[0], encoding: .utf8), let caption = String(bytes: fields[1], encoding: .utf8)
            else {
                try collector.reject(.malformedRow(location: location, reason: "id or caption is not valid UTF-8"))
                continue
            }
            guard !id.isEmpty else {
                try collector.reject(.missingKey(location: location, key: "id"))
                continue
            }
            guard let image = decodeBase64(fields[2]), !image.isEmpty else {
                try collector.reject(.invalidBase64(location: location))
                continue
            }
            try collector.accept(PairRecord(id: id, image: .bytes(image), caption: caption, location: location))
        }
        return try collector.finish(format: .base64TSV)
    }

    /// Whether a first line names columns rather than holding a sample.
    static func looksLikeHeader(_ fields: [ArraySlice<UInt8>]) -> Bool {
        guard fields.count >= 2 else { return false }
        let names = fields.map { String(decoding: $0, as: UTF8.self).lowercased() }
        return headerIdNames.contains(names[0]) || headerImageNames.contains(names[names.count - 1])
    }

    /// Standard base64 (padding optional, surrounding whitespace ignored).
    static func decodeBase64(_ field: ArraySlice<UInt8>) -> [UInt8]? {
        var text = field
        while let last = text.last, last == 0x20 || last == 0x0D { text = text.dropLast() }
        while let head = text.first, head == 0x20 { text = text.dropFirst() }
        var data = Data(text)
        let remainder = data.count % 4
        if remainder == 1 { return nil }
        if remainder != 0 { data.append(contentsOf: [UInt8](repeating: 0x3D, count: 4 - remainder)) }
        guard let decoded = Data(base64Encoded: data) else { return nil }
        return [UInt8](decoded)
    }
}
