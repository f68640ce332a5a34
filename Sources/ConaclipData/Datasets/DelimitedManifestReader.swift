/// Reads OpenCLIP's CSV/TSV manifests: a header row naming the columns, the
/// image path in `imageColumn` (default `filepath`; relative paths are
/// resolved against the manifest's directory) and the caption in
/// `captionColumn` (default `title`). An `id` and a `split` column are used
/// when present; other columns are kept as extras. Whitespace-only lines are
/// skipped.
enum DelimitedManifestReader {
    static func read(path: String, delimiter: UInt8, format: DatasetFormat,
                     options: DatasetOptions) throws(DatasetError) -> OpenedDataset {
        let bytes = try DatasetFiles.readAll(path)
        var parser = DelimitedTextParser(bytes: bytes, delimiter: delimiter)
        guard let header = parser.next() else {
            throw .empty(path: path, reason: "the file is empty; it needs a header row naming the columns "
                + "\"\(options.imageColumn)\" and \"\(options.captionColumn)\"")
        }
        if let problem = header.problem {
            throw .unsupportedFormat(path: "\(path):\(header.line)", reason: "cannot read the header row: \(problem)")
        }
        let columns = header.fields
        func column(_ name: String) throws(DatasetError) -> Int {
            guard let index = columns.firstIndex(of: name) else {
                throw .missingColumn(file: path, column: name, available: columns)
            }
            return index
        }
        let imageIndex = try column(options.imageColumn)
        let captionIndex = try column(options.captionColumn)
        let idIndex = columns.firstIndex(of: options.idColumn)
        let splitIndex = columns.firstIndex(of: options.splitColumn)
        let used = Set([imageIndex, captionIndex, idIndex, splitIndex].compactMap { $0 })
        let directory = DatasetFiles.directory(of: path)
        let delimiterName = delimiter == 0x09 ? "tab" : "comma"

        var collector = RecordCollector(path: path, options: options)
        while let row = parser.next() {
            let location = "\(path):\(row.line)"
            if let problem = row.problem {
                try collector.reject(.malformedRow(location: location, reason: problem))
                continue
            }
            if row.fields.count == 1 && row.fields[0].allSatisfy({ $0.isWhitespace }) { continue }
            guard row.fields.count == columns.count else {
                try collector.reject(.malformedRow(
                    location: location,
                    reason: "\(row.fields.count) \(delimiterName)-separated fields, the header has \(columns.count)"))
                continue
            }
            let split = splitIndex.flatMap { row.fields[$0].isEmpty ? nil : row.fields[$0] }
            guard collector.wants(split: split) else { continue }
            let image = row.fields[imageIndex]
            guard !image.isEmpty else {
                try collector.reject(.missingKey(location: location, key: options.imageColumn))
                continue
            }
            var id = String(row.line)
            if let idIndex, !row.fields[idIndex].isEmpty { id = row.fields[idIndex] }
            var extras: [String: String] = [:]
            for (i, name) in columns.enumerated() where !used.contains(i) {
                extras[name] = row.fields[i]
            }
            let record = PairRecord(id: id, image: .file(path: DatasetFiles.resolve(image, relativeTo: directory)),
                                    caption: row.fields[captionIndex], split: split, location: location)
            try collector.accept(record, extras: extras.isEmpty ? .none : .fields(extras))
        }
        return try collector.finish(format: format)
    }
}
