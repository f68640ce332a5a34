import Crypto
import Foundation

/// How a search index got its embeddings.
public enum SearchCacheStatus: Sendable, Equatable, CustomStringConvertible {
    /// No cache existed; it was computed and written.
    case built
    /// A cache with the expected key was found and used.
    case reused
    /// A cache existed but was stale or damaged (`reason` says how); it was recomputed.
    case rebuilt(reason: String)

    public var description: String {
        switch self {
        case .built: return "built"
        case .reused: return "reused"
        case let .rebuilt(reason): return "rebuilt (\(reason))"
        }
    }

    /// `built`, `reused` or `rebuilt`.
    public var name: String {
        switch self {
        case .built: return "built"
        case .reused: return "reused"
        case .rebuilt: return "rebuilt"
        }
    }
}

/// One retrieved image: its record index in the collection and its cosine
/// similarity to the query.
public struct SearchHit: Sendable, Equatable {
    public var index: Int
    public var score: Float

    public init(index: Int, score: Float) {
        self.index = index; self.score = score
    }
}

/// Why a search could not run.
public enum SearchError: Error, CustomStringConvertible {
    case cache(TeacherCacheError)
    case dataset(DatasetError)
    case fileSystem(path: String, reason: String)
    case encoding(String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .cache(error): return error.description
        case let .dataset(error): return error.description
        case let .fileSystem(path, reason): return "\(path): \(reason)"
        case let .encoding(reason): return "could not embed the queries: \(reason)"
        case let .invalidArgument(reason): return reason
        }
    }
}

/// Text-to-image search over an image collection (a dataset's records):
/// the L2-normalised image embeddings of every record under one model, read
/// from a cache file when it is valid and computed (then cached) when not.
///
/// The cache is a teacher-embedding cache file (`TeacherEmbeddingCache`:
/// checksummed header and payload, written atomically) whose key holds the
/// model's weight digest, its tower configuration, the collection's content
/// digest (ids, captions and image bytes), the record ids in order, and the
/// image preprocessing and tokenizer. The file's name depends only on the
/// model and collection paths and the split (`cacheFileName`), so one file
/// per (model, collection) is kept up to date: when the weights, a picture,
/// a caption or the preprocessing change, the key no longer matches, which
/// is reported and the file rebuilt. A cache is never used unchecked.
public final class ImageSearchIndex {
    public let dataset: OpenedDataset
    /// Embedding width.
    public let dim: Int
    /// L2-normalised image embeddings, `[dataset.count, dim]` row-major.
    public let embeddings: [Float]
    public let cachePath: String
    public let status: SearchCacheStatus

    /// The default cache directory: `$XDG_CACHE_HOME/conaclip/search`, else
    /// `$HOME/.cache/conaclip/search`; nil when neither variable is set.
    public static func defaultCacheDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/conaclip/search" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.cache/conaclip/search" }
        return nil
    }

    /// `search-<24 hex>.cache`: a SHA-256 of the absolute model and
    /// collection paths and the split, so each (model, collection, split)
    /// has one cache file that is rebuilt when stale.
    public static func cacheFileName(modelPath: String, indexPath: String, split: String?) -> String {
        func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        let identity = "conaclip-search-cache-v1\n\(absolute(modelPath))\n\(absolute(indexPath))\n\(split ?? "")"
        let digest = ModelDigest.hex(SHA256.hash(data: Data(identity.utf8)))
        return "search-" + digest.prefix(24) + ".cache"
    }

    /// Opens (or builds) the index of `dataset` under the model of `embedder`.
    /// `indexPath` and `split` name the collection in the cache's file name
    /// and its recorded source; the file goes into `cacheDirectory` (created
    /// if needed).
    public init(embedder: TeacherEmbedder, dataset: OpenedDataset, indexPath: String, split: String?,
                cacheDirectory: String) throws(SearchError) {
        do {
            try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        } catch {
            throw .fileSystem(path: cacheDirectory, reason: "cannot create the search cache directory: \((error as NSError).localizedDescription)")
        }
        let path = cacheDirectory + "/" + Self.cacheFileName(modelPath: embedder.directory, indexPath: indexPath, split: split)
        let datasetDigest: String
        do throws(DatasetError) { datasetDigest = try dataset.datasetDigest() } catch { throw .dataset(error) }
        let key = TeacherCacheKey(teacher: embedder, dataset: dataset, datasetDigest: datasetDigest)
        let source = TeacherCacheSource(teacherPath: embedder.directory, dataPath: indexPath, split: split,
                                        chunkSize: TeacherEmbedder.chunkSize, blasCore: BLAS.coreName)
        var words = ["conaclip", "search", "--model", embedder.directory, "--index", indexPath]
        if let split { words += ["--split", split] }
        let rebuild = words.map(TeacherCacheSource.shellQuoted).joined(separator: " ") + " QUERY (rebuilds it)"

        var status = SearchCacheStatus.reused
        let cache: TeacherEmbeddingCache
        do throws(TeacherCacheError) {
            do {
                cache = try TeacherEmbeddingCache.open(path: path, expecting: key,
                                                       policy: TeacherCachePolicy(onStale: .refuse, verifyPayload: true),
                                                       rebuildCommand: rebuild)
            } catch let error where error.isRebuildable {
                status = Self.status(after: error)
                try TeacherCacheBuilder.write(teacher: embedder, dataset: dataset, datasetDigest: datasetDigest,
                                              to: path, source: source)
                cache = try TeacherEmbeddingCache.open(path: path, expecting: key, rebuildCommand: rebuild)
            }
        } catch {
            throw .cache(error)
        }
        let d = cache.dim
        var values = Array(cache.imageEmbeddings)
        let rows = cache.count
        var norms = [Float](repeating: 0, count: rows)
        if rows > 0 {
            values.withUnsafeMutableBufferPointer { v in
                norms.withUnsafeMutableBufferPointer { n in
                    guard let vb = v.baseAddress, let nb = n.baseAddress else { return }
                    L2Normalize.forward(x: vb, rows: rows, cols: d, y: vb, norms: nb)
                }
            }
        }
        self.dataset = dataset
        self.dim = d
        self.embeddings = values
        self.cachePath = path
        self.status = status
    }

    /// What the cache error that led to a (re)build says about the old file.
    static func status(after error: TeacherCacheError) -> SearchCacheStatus {
        switch error {
        case .missing:
            return .built
        case let .stale(_, mismatches, _):
            return .rebuilt(reason: "stale: " + mismatches.map { explanation(of: $0.field) }.joined(separator: "; "))
        case let .corrupt(_, reason, _):
            return .rebuilt(reason: "corrupt: \(reason)")
        case let .unsupportedVersion(_, found, supported, _):
            return .rebuilt(reason: "format version \(found), this conaclip writes \(supported)")
        default:
            return .rebuilt(reason: error.description)
        }
    }

    /// What a differing cache key field means for a search index.
    static func explanation(of field: String) -> String {
        switch field {
        case "teacher_digest": return "the model's weights changed (teacher_digest)"
        case "teacher_config_digest": return "the model's architecture changed (teacher_config_digest)"
        case "dataset_digest": return "the collection's pictures, captions or ids changed (dataset_digest)"
        case "record_count": return "the number of images changed (record_count)"
        case "record_ids_digest": return "the records or their order changed (record_ids_digest)"
        case "preprocessing.tokenizer_digest": return "the tokenizer files changed (preprocessing.tokenizer_digest)"
        default: return "the preprocessing changed (\(field))"
        }
    }

    /// The `k` best images for each row of `queries` (`[n, dim]`, L2-normalised).
    public func search(queries: Tensor, topK k: Int) -> [[SearchHit]] {
        SearchRanking.topK(queries: queries.scalars, gallery: embeddings, dim: dim, k: k)
    }
}

/// Ranks a gallery of embeddings against queries by dot product (cosine
/// similarity for L2-normalised rows): best first, equal scores ranking the
/// lower gallery index first, as `RetrievalMetrics` does.
public enum SearchRanking {
    /// For each of the `queries.count / dim` query rows, the best `k` gallery rows.
    public static func topK(queries: [Float], gallery: [Float], dim: Int, k: Int) -> [[SearchHit]] {
        guard dim > 0 else { return [] }
        let queryCount = queries.count / dim, galleryCount = gallery.count / dim
        let keep = max(0, min(k, galleryCount))
        var results: [[SearchHit]] = []
        results.reserveCapacity(queryCount)
        var scores = [Float](repeating: 0, count: galleryCount)
        queries.withUnsafeBufferPointer { q in
            gallery.withUnsafeBufferPointer { g in
                for row in 0..<queryCount {
                    let query = row * dim
                    for j in 0..<galleryCount {
                        var sum: Float = 0
                        let image = j * dim
                        for t in 0..<dim { sum += q[query + t] * g[image + t] }
                        scores[j] = sum
                    }
                    results.append(best(scores, count: keep))
                }
            }
        }
        return results
    }

    /// The `count` best entries of `scores` (higher first, then lower index).
    static func best(_ scores: [Float], count: Int) -> [SearchHit] {
        guard count > 0 else { return [] }
        func better(_ a: SearchHit, _ b: SearchHit) -> Bool {
            a.score > b.score || (a.score == b.score && a.index < b.index)
        }
        var kept: [SearchHit] = []
        kept.reserveCapacity(count + 1)
        for (index, score) in scores.enumerated() {
            let hit = SearchHit(index: index, score: score.isNaN ? -.infinity : score)
            if kept.count == count, let last = kept.last, !better(hit, last) { continue }
            var position = kept.count
            while position > 0 && better(hit, kept[position - 1]) { position -= 1 }
            kept.insert(hit, at: position)
            if kept.count > count { kept.removeLast() }
        }
        return kept
    }
}
