import Testing
@testable import ConaclipReport

/// Ranking by dot product: order, ties, k beyond the gallery, NaN.
@Suite struct SearchRankingTests {
    @Test func ranksByScoreThenIndex() {
        // Gallery of 2-d unit vectors; query along x.
        let gallery: [Float] = [0, 1,  1, 0,  0.6, 0.8,  1, 0,  -1, 0]
        let hits = SearchRanking.topK(queries: [1, 0], gallery: gallery, dim: 2, k: 4)
        #expect(hits.count == 1)
        #expect(hits[0].map(\.index) == [1, 3, 2, 0])   // 1 and 3 tie: the lower index first
        #expect(hits[0].map(\.score) == [1, 1, 0.6, 0])
        let all = SearchRanking.topK(queries: [1, 0, 0, 1], gallery: gallery, dim: 2, k: 99)
        #expect(all.count == 2 && all[0].count == 5 && all[1].map(\.index) == [0, 2, 1, 3, 4])
        #expect(SearchRanking.topK(queries: [1, 0], gallery: gallery, dim: 2, k: 0) == [[]])
    }

    @Test func aNaNScoreRanksLast() {
        let hits = SearchRanking.topK(queries: [1], gallery: [0.5, .nan, -0.5], dim: 1, k: 3)
        #expect(hits[0].map(\.index) == [0, 2, 1])
    }

    @Test func cacheFileNamesDependOnModelCollectionAndSplit() {
        let a = ImageSearchIndex.cacheFileName(modelPath: "/m", indexPath: "/d", split: nil)
        #expect(a.hasPrefix("search-") && a.hasSuffix(".cache"))
        #expect(a == ImageSearchIndex.cacheFileName(modelPath: "/m/", indexPath: "/d", split: nil))
        #expect(a != ImageSearchIndex.cacheFileName(modelPath: "/m2", indexPath: "/d", split: nil))
        #expect(a != ImageSearchIndex.cacheFileName(modelPath: "/m", indexPath: "/d", split: "test"))
        #expect(ImageSearchIndex.defaultCacheDirectory(environment: ["HOME": "/h"]) == "/h/.cache/conaclip/search")
        #expect(ImageSearchIndex.defaultCacheDirectory(environment: ["HOME": "/h", "XDG_CACHE_HOME": "/x"]) == "/x/conaclip/search")
        #expect(ImageSearchIndex.defaultCacheDirectory(environment: [:]) == nil)
    }

    @Test func sheetScalesSmallPicturesUpByWholeFactors() {
        var small = RGBImage(width: 2, height: 1, red: 10, green: 20, blue: 30)
        small[1, 0] = (200, 100, 0)
        let big = RetrievalSheet.fit(small, side: 9)
        #expect(big.width == 8 && big.height == 4)
        #expect(big[3, 3] == (10, 20, 30) && big[4, 0] == (200, 100, 0))
        let large = RGBImage(width: 100, height: 50)
        #expect(RetrievalSheet.fit(large, side: 64).width == 64)
    }
}
