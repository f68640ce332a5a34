import Foundation

/// Reads a JSONL manifest: one JSON object per line with `image` (a path
/// relative to the manifest's directory, or absolute) and `caption`;
/// optional `id` (string or integer; the line number when absent), `split`
/// and `same_image_as` (a list of ids). Other keys are kept as extras.
/// Blank lines are ignored; a UTF-8 BOM and CRLF line ends are accepted.
enum JSONLManifestReader {
    static let knownKeys: Set<String> = ["image", "caption", "id", "split", "same_image_as"]

    static func read(path: String, options: DatasetOptions) throws(DatasetError) -> OpenedDataset {
        let bytes = try DatasetFiles.readAll(path)
        let directory = DatasetFiles.directory(of: path)
        var collector = RecordCollector(path: path, options: options)
        for (number, line) in DatasetFiles.lines(bytes) where !DatasetFiles.isBlank(line) {
            let location = "\(path):\(number)"
            let parsed: (PairRecord, [String: String])
            do {
                let fields = try object(line: line, location: location)
                // The split is read first, so a bad record of another split is not counted.
                let split = try optionalString(fields, "split", location: location)
                guard collector.wants(split: split) else { continue }
                parsed = try parse(fields: fields, split: split, number: number, location: location,
                                   directory: directory)
            } catch {
                try collector.reject(error)
                continue
            }
            try collector.accept(parsed.0, extras: parsed.1)
        }
        return try collector.finish(format: .jsonl)
    }

    /// The JSON object on one manifest line.
    static func object(line: ArraySlice<UInt8>, location: String) throws(DatasetError) -> [String: Any] {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(line), options: [])
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            throw .invalidJSON(location: location, reason: detail ?? "\(error)")
        }
        guard let fields = object as? [String: Any] else {
            throw .invalidJSON(location: location, reason: "the line holds a JSON value that is not an object")
        }
        return fields
    }

    /// One manifest object as a record and its extra fields.
    static func parse(fields: [String: Any], split: String?, number: Int, location: String,
                      directory: String) throws(DatasetError) -> (PairRecord, [String: String]) {
        let image = try string(fields, "image", location: location)
        let caption = try string(fields, "caption", location: location)
        let id = try identifier(fields["id"], location: location) ?? String(number)
        var sameImageAs: [String] = []
        if let value = fields["same_image_as"], !(value is NSNull) {
            guard let list = value as? [Any] else {
                throw .wrongType(location: location, key: "same_image_as", expected: "a list of ids")
            }
            for item in list {
                guard let other = try identifier(item, location: location) else {
                    throw .wrongType(location: location, key: "same_image_as", expected: "a list of ids")
                }
                sameImageAs.append(other)
            }
        }
        guard !image.isEmpty else { throw .wrongType(location: location, key: "image", expected: "a non-empty path") }
        var extras: [String: String] = [:]
        for (key, value) in fields where !knownKeys.contains(key) {
            extras[key] = jsonText(value)
        }
        let record = PairRecord(id: id, image: .file(path: DatasetFiles.resolve(image, relativeTo: directory)),
                                caption: caption, split: split, sameImageAs: sameImageAs, location: location)
        return (record, extras)
    }

    private static func string(_ fields: [String: Any], _ key: String, location: String) throws(DatasetError) -> String {
        guard let value = fields[key], !(value is NSNull) else { throw .missingKey(location: location, key: key) }
        guard let text = value as? String else { throw .wrongType(location: location, key: key, expected: "a string") }
        return text
    }

    private static func optionalString(_ fields: [String: Any], _ key: String,
                                       location: String) throws(DatasetError) -> String? {
        guard let value = fields[key], !(value is NSNull) else { return nil }
        guard let text = value as? String else { throw .wrongType(location: location, key: key, expected: "a string") }
        return text
    }

    /// An id given as a string or an integer; nil when absent or null.
    private static func identifier(_ value: Any?, location: String) throws(DatasetError) -> String? {
        guard let value, !(value is NSNull) else { return nil }
        if let text = value as? String {
            guard !text.isEmpty else { throw .wrongType(location: location, key: "id", expected: "a non-empty string") }
            return text
        }
        if let number = value as? NSNumber {
            let double = number.doubleValue
            if double.rounded() == double && abs(double) < 9.0e15 { return String(number.int64Value) }
        }
        throw .wrongType(location: location, key: "id", expected: "a string or an integer")
    }

    /// A JSON value as text: strings as they are, anything else as compact JSON.
    private static func jsonText(_ value: Any) -> String {
        if let text = value as? String { return text }
        if value is NSNull { return "null" }
        guard let data = try? JSONSerialization.data(withJSONObject: value,
                                                     options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes])
        else { return "\(value)" }
        return String(decoding: data, as: UTF8.self)
    }
}
