/// Opens image-text datasets in any of the supported layouts (JSONL, CSV,
/// TSV, base64 TSV, WebDataset tar shards) as an `OpenedDataset`: records in
/// memory, images decoded on demand.
public enum DatasetReader {
    /// Opens the dataset at `path` (a manifest, a tar shard, a directory of
    /// shards or a shard pattern). `format` overrides `options.format`; when
    /// both are nil the format is detected from the path (see
    /// `DatasetFormat.detect`). Bad records are handled by
    /// `options.onBadRecord`; skipped ones are listed in the result's `report`.
    public static func open(path: String, format: DatasetFormat? = nil,
                            options: DatasetOptions = DatasetOptions()) throws(DatasetError) -> OpenedDataset {
        try options.validate()
        guard !path.isEmpty else { throw .invalidOption(name: "path", reason: "the dataset path is empty") }
        let resolved: DatasetFormat
        if let chosen = format ?? options.format {
            resolved = chosen
        } else {
            resolved = try DatasetFormat.detect(path: path, imageColumn: options.imageColumn)
        }
        switch resolved {
        case .jsonl:
            return try JSONLManifestReader.read(path: path, options: options)
        case .csv:
            return try DelimitedManifestReader.read(path: path, delimiter: 0x2C, format: .csv, options: options)
        case .tsv:
            return try DelimitedManifestReader.read(path: path, delimiter: 0x09, format: .tsv, options: options)
        case .base64TSV:
            return try Base64TSVReader.read(path: path, options: options)
        case .tar:
            return try WebDatasetReader.read(spec: path, options: options)
        case .imageFolder:
            return try ImageFolderReader.read(path: path, options: options)
        }
    }
}
