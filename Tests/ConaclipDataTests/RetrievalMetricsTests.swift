import Testing
@testable import ConaclipData

/// Recall@K on hand-made similarity matrices whose answers follow from the
/// documented order (similarity descending, lower gallery index first on
/// ties), and the SGEMM-blocked path against a sort-based exact top-K.
@Suite struct RetrievalMetricsTests {
    /// Row-major `n x n` matrix from a function of (query, gallery).
    static func matrix(_ n: Int, _ f: (Int, Int) -> Float) -> [Float] {
        var s = [Float](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { s[i * n + j] = f(i, j) } }
        return s
    }

    /// The reference: sort the whole row by (score desc, index asc) and
    /// return the position of the first hit.
    static func sortedFirstHit(_ row: ArraySlice<Float>, hits: (Int) -> Bool) -> Int? {
        let scores = Array(row)
        let order = scores.indices.sorted { a, b in scores[a] != scores[b] ? scores[a] > scores[b] : a < b }
        return order.firstIndex(where: hits)
    }

    /// Whether an exact top-k (same order) contains a hit.
    static func topKHasHit(_ row: ArraySlice<Float>, k: Int, hits: (Int) -> Bool) -> Bool {
        let scores = Array(row)
        let order = scores.indices.sorted { a, b in scores[a] != scores[b] ? scores[a] > scores[b] : a < b }
        return order.prefix(k).contains(where: hits)
    }

    @Test func perfectRetrievalIsOneHundredPercent() throws {
        let n = 12
        let s = Self.matrix(n) { i, j in i == j ? 1 : Float(j) * 0.01 }
        let ranks = try RetrievalMetrics.firstHitRanks(similarity: s, queryGroups: Array(0..<n), galleryGroups: Array(0..<n))
        #expect(ranks == Array(repeating: 0, count: n))
        #expect(RecallAtK(ranks: ranks) == RecallAtK(r1: 100, r5: 100, r10: 100))
    }

    @Test func ownPairLastMissesEveryCutOffBelowN() throws {
        // The own pair has the lowest similarity, so it is at position n-1.
        let n = 12
        let s = Self.matrix(n) { i, j in i == j ? -5 : Float(n - j) }
        let ranks = try RetrievalMetrics.firstHitRanks(similarity: s, queryGroups: Array(0..<n), galleryGroups: Array(0..<n))
        #expect(ranks == Array(repeating: n - 1, count: n))
        #expect(RecallAtK(ranks: ranks) == RecallAtK(r1: 0, r5: 0, r10: 0))
    }

    @Test func cutOffLargerThanTheGalleryCountsEveryQuery() throws {
        // Six items, own pair last (position 5): missed at 1 and 5, found at 10 > 6.
        let n = 6
        let s = Self.matrix(n) { i, j in i == j ? -5 : Float(n - j) }
        let ranks = try RetrievalMetrics.firstHitRanks(similarity: s, queryGroups: Array(0..<n), galleryGroups: Array(0..<n))
        #expect(RecallAtK(ranks: ranks) == RecallAtK(r1: 0, r5: 0, r10: 100))
        // Three items: everything is within the top 5 and top 10.
        let three = try RetrievalMetrics.firstHitRanks(similarity: Self.matrix(3) { i, j in i == j ? 0 : 1 },
                                                       queryGroups: [0, 1, 2], galleryGroups: [0, 1, 2])
        #expect(three == [2, 2, 2])
        #expect(RecallAtK(ranks: three) == RecallAtK(r1: 0, r5: 100, r10: 100))
    }

    @Test func tiesRankTheLowerIndexFirst() throws {
        // All similarities equal: query i's own pair is at position i.
        let n = 20
        let ranks = try RetrievalMetrics.firstHitRanks(similarity: [Float](repeating: 0.5, count: n * n),
                                                       queryGroups: Array(0..<n), galleryGroups: Array(0..<n))
        #expect(ranks == Array(0..<n))
        // 1, 5 and 10 of 20 queries have their pair within the cut-off.
        #expect(RecallAtK(ranks: ranks) == RecallAtK(r1: 5, r5: 25, r10: 50))

        // A hit tied with a non-hit: the lower index goes first, whichever it is.
        let scores: [Float] = [0.1, 0.9, 0.2, 0.9]
        let hitAfterTie = scores.withUnsafeBufferPointer { RetrievalMetrics.firstHitRank(scores: $0) { $0 == 3 } }
        let hitBeforeTie = scores.withUnsafeBufferPointer { RetrievalMetrics.firstHitRank(scores: $0) { $0 == 1 } }
        #expect(hitAfterTie == 1)
        #expect(hitBeforeTie == 0)
        let noHit = scores.withUnsafeBufferPointer { RetrievalMetrics.firstHitRank(scores: $0) { _ in false } }
        #expect(noHit == nil)
        #expect(RetrievalMetrics.recall(ranks: [nil, 0], k: 10) == 50)
    }

    @Test func identicalPicturesCountAsHitsInBothDirections() throws {
        // Items 0 and 1 have the same picture (identical image embeddings);
        // their captions embed alike too. Item 2 stands alone.
        let e0: [Float] = [1, 0, 0], e2: [Float] = [0, 0, 1]
        let images = try Tensor(shape: [3, 3], scalars: e0 + e0 + e2)
        let texts = try Tensor(shape: [3, 3], scalars: e0 + e0 + e2)
        // Without the group, text 1 ties images 0 and 1 and gets image 0
        // first; image 1 ties texts 0 and 1 and gets text 0 first.
        let apart = try RetrievalMetrics.evaluate(imageEmbeddings: images, textEmbeddings: texts, groups: [0, 1, 2])
        #expect(apart.textToImage.r1 == 200.0 / 3)
        #expect(apart.imageToText.r1 == 200.0 / 3)
        let together = try RetrievalMetrics.evaluate(imageEmbeddings: images, textEmbeddings: texts, groups: [0, 0, 2])
        #expect(together.textToImage == RecallAtK(r1: 100, r5: 100, r10: 100))
        #expect(together.imageToText == RecallAtK(r1: 100, r5: 100, r10: 100))
        #expect(together.meanRecall == 100)

        // Query 0 ranks gallery item 1 above its own pair: a hit at position
        // 0 only through the group. Query 1's group hits (0 and 1) are both
        // behind item 2, so the group does not help it.
        let s: [Float] = [0.5, 0.9, 0.1,
                          0.2, 0.3, 0.8,
                          0.1, 0.2, 0.3]
        let byPair = try RetrievalMetrics.firstHitRanks(similarity: s, queryGroups: [0, 1, 2], galleryGroups: [0, 1, 2])
        let byGroup = try RetrievalMetrics.firstHitRanks(similarity: s, queryGroups: [0, 0, 2], galleryGroups: [0, 0, 2])
        #expect(byPair == [1, 1, 0])
        #expect(byGroup == [0, 1, 0])
    }

    @Test func sameImageGroupsAreSymmetricTransitiveAndIgnoreUnknownIds() {
        // "b" names "a" only; "d" names "c" and "c" names "e"; "x" is not evaluated.
        let ids = ["a", "b", "c", "d", "e", "f"]
        let lists: [[String]] = [[], ["a"], ["e"], ["c"], [], ["x"]]
        #expect(SameImageGroups.labels(ids: ids, sameImageAs: lists) == [0, 0, 2, 2, 2, 5])
        // Listed from the later item towards the earlier ones: the label is still the group minimum.
        #expect(SameImageGroups.labels(ids: ["p", "q", "r"], sameImageAs: [["r"], [], ["q"]]) == [0, 0, 0])
    }

    @Test func blockwiseEqualsWholeMatrixAndSortedTopK() throws {
        // Small-integer embeddings make every dot product exact in float, so
        // any block split must give identical similarities, and ties are
        // frequent enough to exercise tie-breaking across block edges.
        var random = DeterministicRandom(seed: 11)
        let n = 37, d = 4
        let q = (0..<(n * d)).map { _ in Float(random.nextIndex(below: 5)) - 2 }
        let g = (0..<(n * d)).map { _ in Float(random.nextIndex(below: 5)) - 2 }
        let groups = (0..<n).map { $0 % 3 == 1 ? $0 - 1 : $0 }   // pairs (0,1), (3,4), ...: shared pictures
        let queries = try Tensor(shape: [n, d], scalars: q), gallery = try Tensor(shape: [n, d], scalars: g)

        var full = [Float](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { for t in 0..<d { full[i * n + j] += q[i * d + t] * g[j * d + t] } } }
        var ties = 0
        for i in 0..<n { ties += Set(full[(i * n)..<((i + 1) * n)]).count < n ? 1 : 0 }
        #expect(ties == n, "the test needs tied similarities in every row")

        let reference = (0..<n).map { i in
            Self.sortedFirstHit(full[(i * n)..<((i + 1) * n)]) { groups[$0] == groups[i] }
        }
        #expect(try RetrievalMetrics.firstHitRanks(similarity: full, queryGroups: groups, galleryGroups: groups) == reference)
        for block in [1, 5, 36, 37, 1000] {
            let ranks = try RetrievalMetrics.firstHitRanks(queries: queries, gallery: gallery, queryGroups: groups,
                                                           galleryGroups: groups, blockRows: block)
            #expect(ranks == reference, "block of \(block) rows")
        }
        for k in [1, 5, 10] {
            let hits = (0..<n).filter { i in
                Self.topKHasHit(full[(i * n)..<((i + 1) * n)], k: k) { groups[$0] == groups[i] }
            }.count
            #expect(RetrievalMetrics.recall(ranks: reference, k: k) == 100 * Double(hits) / Double(n), "k = \(k)")
        }
    }

    @Test func meanRecallIsTheMeanOfTheSixNumbers() {
        let result = RetrievalResult(textToImage: RecallAtK(r1: 10, r5: 20, r10: 30),
                                     imageToText: RecallAtK(r1: 40, r5: 50, r10: 60))
        #expect(result.meanRecall == 35)
    }

    @Test func badInputIsRefusedWithAReason() throws {
        let a = try Tensor(shape: [2, 2], scalars: [1, 0, 0, 1])
        let b = try Tensor(shape: [2, 3], scalars: [1, 0, 0, 0, 1, 0])
        #expect(throws: RetrievalError.self) { try RetrievalMetrics.evaluate(imageEmbeddings: a, textEmbeddings: b, groups: [0, 1]) }
        let nan = try Tensor(shape: [2, 2], scalars: [1, 0, .nan, 1])
        #expect(throws: RetrievalError.nonFiniteEmbedding(kind: "text", index: 1)) {
            try RetrievalMetrics.evaluate(imageEmbeddings: a, textEmbeddings: nan, groups: [0, 1])
        }
        #expect(throws: RetrievalError.invalidArgument("the similarity block must have at least one row, got 0")) {
            try RetrievalMetrics.firstHitRanks(queries: a, gallery: a, queryGroups: [0, 1], galleryGroups: [0, 1], blockRows: 0)
        }
        #expect(throws: RetrievalError.shapeMismatch("1 query labels for 2 queries, 2 gallery labels for 2 items")) {
            try RetrievalMetrics.firstHitRanks(queries: a, gallery: a, queryGroups: [0], galleryGroups: [0, 1])
        }
    }
}
