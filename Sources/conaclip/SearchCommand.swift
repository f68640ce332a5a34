import ArgumentParser
import ConaclipCluster
import ConaclipReport
import Foundation

/// `conaclip search`: text-to-image search over an image collection.
struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Answer text queries with the best-matching images of a collection (a folder of pictures or a dataset).",
        discussion: """
            The collection is a directory of PNG/JPEG files (searched recursively; the file name is the \
            caption) or any dataset the readers accept (JSONL/CSV/TSV manifest, tar shards). Its image \
            embeddings are computed once with the model and cached in --cache-dir; the cache is keyed by \
            the model's weight digest, the collection's content digest (ids, captions, image bytes), the \
            preprocessing and the tokenizer, so a changed model or collection is noticed (and said on \
            standard error) and the cache rebuilt. Scores are cosine similarities; equal scores rank the \
            earlier record first.
            """)

    @Option(help: "Model directory (Hugging Face CLIP layout), or a run directory (its final model).")
    var model: String

    @Option(help: "The image collection: a directory of pictures, a manifest, a tar shard or a shard pattern.")
    var index: String

    @Argument(help: "Text queries.")
    var queries: [String]

    @Option(help: "Images per query.")
    var topK = 5

    @Option(help: "Keep only records of this split (manifests with a split field).")
    var split: String?

    @Option(help: "Dataset format (jsonl, csv, tsv, base64-tsv, tar, image-folder); detected from the path when omitted.")
    var format: String?

    @Option(help: "Directory of search caches (default: $XDG_CACHE_HOME/conaclip/search or ~/.cache/conaclip/search).")
    var cacheDir: String?

    @Option(help: "Also write a PNG contact sheet: one row per query with its top images.")
    var sheet: String?

    @Option(help: "Side of an image in the contact sheet, in pixels.")
    var sheetCell = 64

    @Flag(help: "Print one JSON object (sorted keys) instead of tables.")
    var json = false

    func validate() throws {
        guard !queries.isEmpty else { throw ValidationError("give at least one query") }
        guard topK > 0 else { throw ValidationError("--top-k must be positive") }
        guard sheetCell >= 8 else { throw ValidationError("--sheet-cell must be at least 8") }
        if let format, DatasetFormat(rawValue: format) == nil {
            throw ValidationError("--format must be one of \(DatasetFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let split, split.isEmpty { throw ValidationError("--split must not be empty") }
    }

    func run() throws {
        BLAS.setThreads(1)
        let modelDirectory = try ModelDigest.resolveModelDirectory(model)
        guard let cacheDirectory = cacheDir ?? ImageSearchIndex.defaultCacheDirectory() else {
            throw SearchCommandError("no cache directory: set HOME or XDG_CACHE_HOME, or give --cache-dir")
        }
        let dataset: OpenedDataset
        do {
            dataset = try DatasetReader.open(path: index, options: DatasetOptions(
                format: format.flatMap(DatasetFormat.init(rawValue:)), split: split))
        } catch {
            throw SearchCommandError("cannot open the collection \(index): \(error)")
        }
        let encoder: CLIPEncoder
        do { encoder = try CLIPEncoder(directory: modelDirectory) } catch {
            throw SearchCommandError("cannot load model \(modelDirectory): \(error)")
        }
        let embedder = try TeacherEmbedder(encoder: encoder, directory: modelDirectory)
        let started = Date()
        let searchIndex = try ImageSearchIndex(embedder: embedder, dataset: dataset, indexPath: index, split: split,
                                               cacheDirectory: cacheDirectory)
        let seconds = Date().timeIntervalSince(started)
        FileHandle.standardError.write(Data(("conaclip search: \(dataset.count) images from \(index); cache "
            + "\(searchIndex.cachePath) \(searchIndex.status) in \(String(format: "%.2f", seconds)) s\n").utf8))

        let queryEmbeddings = try encoder.embed(texts: queries)
        let results = searchIndex.search(queries: queryEmbeddings, topK: topK)

        if json {
            let report = SearchReport(model: modelDirectory, index: index, split: split, images: dataset.count,
                                      cache: .init(path: searchIndex.cachePath, status: searchIndex.status.name,
                                                   detail: searchIndex.status.description),
                                      queries: zip(queries, results).map { query, hits in
                                          .init(query: query, results: hits.enumerated().map { rank, hit in
                                              let record = dataset.record(at: hit.index)
                                              return .init(rank: rank + 1, score: Double(hit.score), id: record.id,
                                                           caption: record.caption, image: Self.describe(record))
                                          })
                                      })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            for (number, (query, hits)) in zip(queries, results).enumerated() {
                if number > 0 { print("") }
                print("query \(number + 1): \(query)")
                let idWidth = min(40, max(2, hits.map { dataset.record(at: $0.index).id.count }.max() ?? 2))
                print("  rank   score  " + "id".padding(toLength: idWidth, withPad: " ", startingAt: 0) + "  caption")
                for (rank, hit) in hits.enumerated() {
                    let record = dataset.record(at: hit.index)
                    let id = record.id.count > idWidth ? String(record.id.prefix(idWidth - 3)) + "..." : record.id
                    print(String(format: "  %4d  %6.4f  ", rank + 1, Double(hit.score))
                        + id.padding(toLength: idWidth, withPad: " ", startingAt: 0) + "  " + record.caption)
                }
            }
        }

        if let sheet {
            var rows: [RetrievalSheet.Row] = []
            for (query, hits) in zip(queries, results) {
                var cells: [RetrievalSheet.Hit] = []
                for hit in hits {
                    let record = dataset.record(at: hit.index)
                    let image = try dataset.loadImage(at: hit.index)
                    cells.append(RetrievalSheet.Hit(image: image, caption: record.caption, score: hit.score))
                }
                rows.append(RetrievalSheet.Row(query: query, hits: cells))
            }
            let title = "conaclip search: top \(topK) of \(dataset.count) images in \(index) for model \(model)"
            let image = RetrievalSheet(cellSize: sheetCell, title: title).render(rows)
            try image.writePNG(toFile: sheet)
            FileHandle.standardError.write(Data("conaclip search: wrote \(sheet) (\(image.width)x\(image.height))\n".utf8))
        }
    }

    /// Where a record's picture is: its file, `SHARD@OFFSET`, or its manifest location.
    static func describe(_ record: PairRecord) -> String {
        switch record.image {
        case let .file(path): return path
        case let .fileRange(path, offset, _): return "\(path)@\(offset)"
        case .bytes: return record.location
        }
    }
}

/// The `--json` output of `conaclip search`.
struct SearchReport: Encodable {
    struct Cache: Encodable {
        var path: String
        var status: String
        var detail: String
    }
    struct Result: Encodable {
        var rank: Int
        var score: Double
        var id: String
        var caption: String
        var image: String
    }
    struct Query: Encodable {
        var query: String
        var results: [Result]
    }
    var model: String
    var index: String
    var split: String?
    var images: Int
    var cache: Cache
    var queries: [Query]
}

/// A plain error message of `conaclip search`.
struct SearchCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
