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
            let record: PairRecord
            let hasExtras: Bool
            do {
                let fields = try object(line: line, location: location)
                // The split is read first, so a bad record of another split is not counted.
                let split = try optionalString(fields, "split", location: location)
                guard collector.wants(split: split) else { continue }
                record = try parse(fields: fields, split: split, number: number, location: location,
                                   directory: directory)
                hasExtras = fields.keys.contains { !knownKeys.contains($0) }
            } catch {
                try collector.reject(error)
                continue
            }
            try collector.accept(record, extras: hasExtras ? .jsonLine(path: path, range: line.startIndex..<line.endIndex) : .none)
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

    /// One manifest object as a record.
    static func parse(fields: [String: Any], split: String?, number: Int, location: String,
                      directory: String) throws(DatasetError) -> PairRecord {
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
        return PairRecord(id: id, image: .file(path: DatasetFiles.resolve(image, relativeTo: directory)),
                          caption: caption, split: split, sameImageAs: sameImageAs, location: location)
    }

    /// The extra fields of the manifest line at `range` of `path`, read again from the file.
    static func extras(path: String, range: Range<Int>, location: String) throws(DatasetError) -> [String: String] {
        let file = try OpenFile(path: path)
        defer { file.close() }
        guard let line = try file.bytes(at: range.lowerBound, count: range.count) else {
            throw .unreadable(path: path, reason: "the manifest changed since it was opened (\(location) is gone)")
        }
        let fields: [String: Any]
        do {
            fields = try object(line: line[...], location: location)
        } catch {
            throw .unreadable(path: path, reason: "the manifest changed since it was opened (\(error))")
        }
        var extras: [String: String] = [:]
        for (key, value) in fields where !knownKeys.contains(key) {
            extras[key] = jsonText(value)
        }
        return extras
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

    /// A JSON value as text: strings as they are, anything else as compact
    /// JSON (object keys sorted).
    static func jsonText(_ value: Any) -> String {
        if let text = value as? String { return text }
        var out = ""
        writeJSON(value, into: &out)
        return out
    }

    /// Compact JSON for the values `JSONSerialization` produces; cheaper than
    /// re-serialising through Foundation for every line of a large manifest.
    private static func writeJSON(_ value: Any, into out: inout String) {
        switch value {
        case let text as String:
            OrderedJSON.writeString(text, into: &out)
        case is NSNull:
            out += "null"
        case let list as [Any]:
            out += "["
            for (i, item) in list.enumerated() {
                if i > 0 { out += "," }
                writeJSON(item, into: &out)
            }
            out += "]"
        case let object as [String: Any]:
            out += "{"
            for (i, key) in object.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                OrderedJSON.writeString(key, into: &out)
                out += ":"
                writeJSON(object[key] ?? NSNull(), into: &out)
            }
            out += "}"
        case let number as NSNumber:
            // JSON booleans arrive as a distinct NSNumber subclass on Linux and Darwin alike.
            if String(describing: type(of: number)).contains("Boolean") {
                out += number.boolValue ? "true" : "false"
            } else {
                out += number.stringValue
            }
        default:
            out += "\"\(value)\""
        }
    }
}
