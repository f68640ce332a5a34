/// Why retrieval metrics could not be computed.
public enum RetrievalError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Nothing to evaluate.
    case empty
    /// Query and gallery embeddings (or their group labels) disagree in size.
    case shapeMismatch(String)
    /// An embedding holds NaN or infinity, so similarities cannot be ranked.
    case nonFiniteEmbedding(kind: String, index: Int)
    /// A block size or cut-off that must be positive is not.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .empty: return "there are no items to evaluate"
        case let .shapeMismatch(reason): return "retrieval shapes do not match: \(reason)"
        case let .nonFiniteEmbedding(kind, index):
            return "the \(kind) embedding of item \(index) is not finite (NaN or infinity); the model's weights or input are broken"
        case let .invalidArgument(reason): return reason
        }
    }
}

/// Recall@1, @5 and @10 of one retrieval direction, in percent (0-100), as
/// the ConaCLIP paper reports them.
public struct RecallAtK: Sendable, Equatable, Codable {
    public var r1: Double
    public var r5: Double
    public var r10: Double

    public init(r1: Double, r5: Double, r10: Double) {
        self.r1 = r1; self.r5 = r5; self.r10 = r10
    }

    /// Recalls from each query's first-hit rank (see `RetrievalMetrics.firstHitRanks`).
    public init(ranks: [Int?]) {
        r1 = RetrievalMetrics.recall(ranks: ranks, k: 1)
        r5 = RetrievalMetrics.recall(ranks: ranks, k: 5)
        r10 = RetrievalMetrics.recall(ranks: ranks, k: 10)
    }
}

/// Text-to-image and image-to-text recalls and the paper's "mean recall"
/// (the mean of the six numbers).
public struct RetrievalResult: Sendable, Equatable {
    public var textToImage: RecallAtK
    public var imageToText: RecallAtK

    public init(textToImage: RecallAtK, imageToText: RecallAtK) {
        self.textToImage = textToImage; self.imageToText = imageToText
    }

    /// Mean of the six recalls, in percent.
    public var meanRecall: Double {
        (textToImage.r1 + textToImage.r5 + textToImage.r10 + imageToText.r1 + imageToText.r5 + imageToText.r10) / 6
    }
}

/// Cross-modal retrieval metrics over L2-normalised embeddings.
///
/// Ranking: a query's gallery is ordered by cosine similarity (dot product
/// of the normalised embeddings, computed with SGEMM), highest first; equal
/// similarities are ordered by gallery index, LOWER INDEX FIRST. This makes
/// the order a total, deterministic one.
///
/// Hits: gallery item `j` is a hit for query `i` when their group labels are
/// equal (`queryGroups[i] == galleryGroups[j]`). With one caption and one
/// image per item and labels from `SameImageGroups`, that is "the query's own
/// pair or any item whose picture is identical to it", in both directions.
///
/// Exactness without sorting: a query counts at K when at least one hit is
/// among the first K of the order above, i.e. when the best-placed hit has
/// position < K. The best-placed hit is the hit with the highest similarity
/// (lowest index among equal ones), and its 0-based position is the number
/// of gallery items that precede it in the order. `firstHitRanks` computes
/// that position exactly with two linear passes over each similarity row,
/// which gives the same answer as an exact top-K with the same tie-breaking
/// for every K at once.
///
/// Memory: similarities are computed `blockRows` queries at a time into one
/// reused `[blockRows, galleryCount]` buffer, so 10k x 10k needs about
/// 10 MB with the default block, never the whole matrix.
public enum RetrievalMetrics {
    /// Query rows per SGEMM block.
    public static let defaultBlockRows = 256

    /// Percentage of queries whose first hit lies within the top `k`
    /// (`rank < k`); queries with no hit in the gallery count as misses.
    public static func recall(ranks: [Int?], k: Int) -> Double {
        guard !ranks.isEmpty else { return 0 }
        let hits = ranks.reduce(0) { count, rank in
            guard let rank else { return count }
            return rank < k ? count + 1 : count
        }
        return 100 * Double(hits) / Double(ranks.count)
    }

    /// 0-based position of the best-placed hit in one similarity row under
    /// the documented order (similarity descending, then index ascending),
    /// or nil when no gallery item is a hit.
    @inlinable
    public static func firstHitRank(scores: UnsafeBufferPointer<Float>, isHit: (Int) -> Bool) -> Int? {
        var best = -1
        var bestScore = -Float.infinity
        for j in 0..<scores.count where isHit(j) {
            // Strictly greater keeps the lowest index among equal scores.
            if best < 0 || scores[j] > bestScore {
                best = j
                bestScore = scores[j]
            }
        }
        guard best >= 0 else { return nil }
        var ahead = 0
        for j in 0..<scores.count {
            let s = scores[j]
            if s > bestScore || (s == bestScore && j < best) { ahead += 1 }
        }
        return ahead
    }

    /// First-hit ranks for a dense row-major similarity matrix
    /// `[queryGroups.count, galleryGroups.count]`.
    public static func firstHitRanks(similarity: [Float], queryGroups: [Int], galleryGroups: [Int])
        throws(RetrievalError) -> [Int?] {
        let m = galleryGroups.count
        guard similarity.count == queryGroups.count * m else {
            throw .shapeMismatch("\(similarity.count) similarities for \(queryGroups.count) queries x \(m) gallery items")
        }
        var ranks = [Int?](repeating: nil, count: queryGroups.count)
        similarity.withUnsafeBufferPointer { s in
            guard let base = s.baseAddress else { return }
            for i in 0..<queryGroups.count {
                let group = queryGroups[i]
                ranks[i] = firstHitRank(scores: UnsafeBufferPointer(start: base + i * m, count: m)) {
                    galleryGroups[$0] == group
                }
            }
        }
        return ranks
    }

    /// First-hit ranks of every query against the gallery, with similarities
    /// `queries · galleryᵀ` computed by SGEMM `blockRows` queries at a time.
    /// Both tensors are `[count, dim]` with the same `dim`.
    public static func firstHitRanks(queries: Tensor, gallery: Tensor, queryGroups: [Int], galleryGroups: [Int],
                                     blockRows: Int = defaultBlockRows) throws(RetrievalError) -> [Int?] {
        guard blockRows > 0 else { throw .invalidArgument("the similarity block must have at least one row, got \(blockRows)") }
        guard queries.shape.count == 2, gallery.shape.count == 2 else {
            throw .shapeMismatch("embeddings must be [count, dim], got \(queries.shape) and \(gallery.shape)")
        }
        let n = queries.shape[0], m = gallery.shape[0], d = queries.shape[1]
        guard gallery.shape[1] == d else {
            throw .shapeMismatch("query width \(d) but gallery width \(gallery.shape[1])")
        }
        guard queryGroups.count == n, galleryGroups.count == m else {
            throw .shapeMismatch("\(queryGroups.count) query labels for \(n) queries, \(galleryGroups.count) gallery labels for \(m) items")
        }
        guard n > 0, m > 0 else { throw .empty }
        let rows = min(blockRows, n)
        var block = [Float](repeating: 0, count: rows * m)
        var ranks = [Int?](repeating: nil, count: n)
        queries.scalars.withUnsafeBufferPointer { q in
            gallery.scalars.withUnsafeBufferPointer { g in
                block.withUnsafeMutableBufferPointer { c in
                    guard let qb = q.baseAddress, let gb = g.baseAddress, let cb = c.baseAddress else { return }
                    for start in stride(from: 0, to: n, by: rows) {
                        let count = min(rows, n - start)
                        BLAS.gemm(transA: false, transB: true, m: count, n: m, k: d,
                                  a: qb + start * d, lda: d, b: gb, ldb: d, c: cb, ldc: m)
                        for r in 0..<count {
                            let group = queryGroups[start + r]
                            ranks[start + r] = firstHitRank(scores: UnsafeBufferPointer(start: cb + r * m, count: m)) {
                                galleryGroups[$0] == group
                            }
                        }
                    }
                }
            }
        }
        return ranks
    }

    /// Both directions for `count` pairs: item `i` is caption `i` with image
    /// `i`; `groups[i]` labels identical pictures (see `SameImageGroups`).
    /// Embeddings must be finite; they should be L2-normalised so that the
    /// dot product is the cosine similarity.
    public static func evaluate(imageEmbeddings: Tensor, textEmbeddings: Tensor, groups: [Int],
                                blockRows: Int = defaultBlockRows) throws(RetrievalError) -> RetrievalResult {
        guard imageEmbeddings.shape == textEmbeddings.shape else {
            throw .shapeMismatch("image embeddings \(imageEmbeddings.shape) but text embeddings \(textEmbeddings.shape)")
        }
        try requireFinite(imageEmbeddings, kind: "image")
        try requireFinite(textEmbeddings, kind: "text")
        let t2i = try firstHitRanks(queries: textEmbeddings, gallery: imageEmbeddings,
                                    queryGroups: groups, galleryGroups: groups, blockRows: blockRows)
        let i2t = try firstHitRanks(queries: imageEmbeddings, gallery: textEmbeddings,
                                    queryGroups: groups, galleryGroups: groups, blockRows: blockRows)
        return RetrievalResult(textToImage: RecallAtK(ranks: t2i), imageToText: RecallAtK(ranks: i2t))
    }

    static func requireFinite(_ tensor: Tensor, kind: String) throws(RetrievalError) {
        guard let width = tensor.shape.last, width > 0 else { return }
        if let bad = tensor.scalars.firstIndex(where: { !$0.isFinite }) {
            throw .nonFiniteEmbedding(kind: kind, index: bad / width)
        }
    }
}

/// Group labels for "identical picture" hits: items are joined when either
/// names the other in `same_image_as`, and joins are transitive (identical
/// is an equivalence), computed with union-find. Ids that are not among the
/// evaluated items (another split, skipped records) are ignored. Each label
/// is the lowest index of its group, so an item alone is labelled by itself.
public enum SameImageGroups {
    public static func labels(ids: [String], sameImageAs: [[String]]) -> [Int] {
        precondition(ids.count == sameImageAs.count, "one same_image_as list per id")
        var indexOf: [String: Int] = [:]
        for (i, id) in ids.enumerated() where indexOf[id] == nil { indexOf[id] = i }
        var parent = Array(0..<ids.count)
        func root(_ x: Int) -> Int {
            var x = x
            while parent[x] != x {
                parent[x] = parent[parent[x]]
                x = parent[x]
            }
            return x
        }
        for (i, others) in sameImageAs.enumerated() {
            for other in others {
                guard let j = indexOf[other] else { continue }
                let a = root(i), b = root(j)
                // Keep the lower index as the root, so labels are the group minimum.
                if a < b { parent[b] = a } else if b < a { parent[a] = b }
            }
        }
        return (0..<ids.count).map { root($0) }
    }
}
