import Foundation
import Testing
import ConaclipModels

/// `conaclip search` end to end with `ColourCLIP`, whose scores are known in
/// closed form: the ranking and scores, the cache (built, reused, rebuilt
/// when the model, a picture or the file itself changes) and the sheet.
@Suite struct SearchCommandTests {
    struct Output: Decodable {
        struct Cache: Decodable { var path: String; var status: String; var detail: String }
        struct Result: Decodable { var rank: Int; var score: Double; var id: String; var caption: String; var image: String }
        struct Query: Decodable { var query: String; var results: [Result] }
        var images: Int
        var cache: Cache
        var queries: [Query]
    }

    /// A model, a folder of one-colour pictures (one in a subfolder, one
    /// hidden folder that must be skipped, one non-picture file) and a cache dir.
    struct Workspace {
        let root: URL
        var model: String { root.appendingPathComponent("model").path }
        var pictures: String { root.appendingPathComponent("pictures").path }
        var cache: String { root.appendingPathComponent("cache").path }

        init() throws {
            root = try CLIRunner.temporaryDirectory()
            try ColourCLIP.write(to: root.appendingPathComponent("model").path)
            let fileManager = FileManager.default
            try fileManager.createDirectory(atPath: root.appendingPathComponent("pictures/more").path, withIntermediateDirectories: true)
            try fileManager.createDirectory(atPath: root.appendingPathComponent("pictures/.hidden").path, withIntermediateDirectories: true)
            for (name, rgb) in ColourCLIP.palette {
                let folder = name == "orange" ? "pictures/more" : "pictures"
                try ColourCLIP.writePicture(rgb, to: root.appendingPathComponent("\(folder)/\(name).png").path)
            }
            try ColourCLIP.writePicture((0, 0, 0), to: root.appendingPathComponent("pictures/.hidden/black.png").path)
            try Data("not a picture".utf8).write(to: root.appendingPathComponent("pictures/notes.txt"))
        }

        /// Relative ids in the order the folder reader lists them, with their colours.
        var gallery: [(id: String, rgb: (UInt8, UInt8, UInt8))] {
            ColourCLIP.palette.map { (($0.name == "orange" ? "more/" : "") + $0.name + ".png", $0.rgb) }
                .sorted { Array($0.id.utf8).lexicographicallyPrecedes(Array($1.id.utf8)) }
        }

        func search(_ queries: [String], topK: Int = 4, extra: [String] = []) throws -> (CLIRunner.Run, Output?) {
            let run = try CLIRunner.run(["search", "--model", model, "--index", pictures, "--cache-dir", cache,
                                         "--top-k", String(topK), "--json"] + extra + queries, in: root)
            let output = run.status == 0 ? try JSONDecoder().decode(Output.self, from: Data(run.stdout.utf8)) : nil
            return (run, output)
        }
    }

    /// The expected top `k` of `query` over `gallery`: by score, ties to the earlier picture.
    static func expected(_ query: String, gallery: [(id: String, rgb: (UInt8, UInt8, UInt8))], k: Int,
                         colours: [String: (UInt8, UInt8, UInt8)] = [:]) -> [(id: String, score: Double)] {
        let scored = gallery.enumerated().map { index, item in
            (index: index, id: item.id, score: ColourCLIP.expectedScore(query, colours[item.id] ?? item.rgb))
        }
        // Scores closer than float rounding count as ties (the ranking then goes by index).
        let sorted = scored.sorted { a, b in
            abs(a.score - b.score) > 1e-6 ? a.score > b.score : a.index < b.index
        }
        return sorted.prefix(k).map { ($0.id, $0.score) }
    }

    static func check(_ output: Output, against expectations: [[(id: String, score: Double)]]) {
        #expect(output.queries.count == expectations.count)
        for (query, expected) in zip(output.queries, expectations) {
            #expect(query.results.map(\.id) == expected.map(\.id), "query \(query.query)")
            #expect(query.results.map(\.rank) == Array(1...expected.count))
            for (got, want) in zip(query.results, expected) {
                #expect(abs(got.score - want.score) < 1e-4, "\(query.query) -> \(got.id): \(got.score) vs \(want.score)")
            }
        }
    }

    @Test func ranksAsTheClosedFormSaysAndReusesItsCache() throws {
        let w = try Workspace()
        defer { try? FileManager.default.removeItem(at: w.root) }
        let queries = ["red", "green and blue", "a RED thing", "sky"]
        let expectations = queries.map { Self.expected($0, gallery: w.gallery, k: 4) }
        // "sky" names no colour: every score is 0 and the ranking falls back to folder order.
        #expect(expectations[3].map(\.id) == Array(w.gallery.prefix(4).map(\.id)))

        let (first, built) = try w.search(queries)
        #expect(first.status == 0, "\(first.stderr)")
        let output = try #require(built)
        #expect(output.images == ColourCLIP.palette.count)   // the hidden folder and the text file are not pictures
        #expect(output.cache.status == "built")
        Self.check(output, against: expectations)
        // CLIP's normalisation leaves pure red with strongly negative green and blue, so orange,
        // whose green is near the mean, is closer to the pure "red" direction than red itself.
        #expect(output.queries[0].results.prefix(2).map(\.id) == ["more/orange.png", "red.png"])
        #expect(output.queries[0].results[0].caption == "orange")

        let (second, reused) = try w.search(queries)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(reused?.cache.status == "reused")
        #expect(reused?.cache.path == output.cache.path)
        Self.check(try #require(reused), against: expectations)
    }

    @Test func aStaleOrDamagedCacheIsRebuiltNeverReused() throws {
        let w = try Workspace()
        defer { try? FileManager.default.removeItem(at: w.root) }
        let (_, built) = try w.search(["red"])
        let cachePath = try #require(built?.cache.path)

        // Same model path, other weights (red and green swapped): "red" now ranks like "green" did.
        try ColourCLIP.write(to: w.model, swap: true, replace: true)
        let (afterModel, swapped) = try w.search(["red"])
        #expect(afterModel.status == 0, "\(afterModel.stderr)")
        #expect(swapped?.cache.status == "rebuilt")
        #expect(swapped?.cache.detail.contains("weights changed") == true, "\(swapped?.cache.detail ?? "")")
        #expect(afterModel.stderr.contains("rebuilt"))
        Self.check(try #require(swapped), against: [Self.expected("green", gallery: w.gallery, k: 4)])

        // Same file name, another picture: blue.png becomes a red whose green and blue sit at CLIP's mean.
        try ColourCLIP.write(to: w.model, replace: true)
        _ = try w.search(["red"])
        try ColourCLIP.writePicture((255, 120, 104), to: w.pictures + "/blue.png")
        let (afterPicture, repainted) = try w.search(["red"])
        #expect(afterPicture.status == 0, "\(afterPicture.stderr)")
        #expect(repainted?.cache.status == "rebuilt")
        #expect(repainted?.cache.detail.contains("collection") == true, "\(repainted?.cache.detail ?? "")")
        let expected = Self.expected("red", gallery: w.gallery, k: 4, colours: ["blue.png": (255, 120, 104)])
        #expect(expected.prefix(2).map(\.id) == ["blue.png", "more/orange.png"])
        Self.check(try #require(repainted), against: [expected])

        // A damaged file is noticed by its checksum.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: cachePath)))
        bytes[bytes.count - 5] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: cachePath))
        let (afterDamage, repaired) = try w.search(["red"])
        #expect(afterDamage.status == 0, "\(afterDamage.stderr)")
        #expect(repaired?.cache.status == "rebuilt")
        #expect(repaired?.cache.detail.contains("corrupt") == true, "\(repaired?.cache.detail ?? "")")
        Self.check(try #require(repaired), against: [expected])
    }

    @Test func writesAContactSheetOfTheTopImagesAndPrintsATable() throws {
        let w = try Workspace()
        defer { try? FileManager.default.removeItem(at: w.root) }
        let sheet = w.root.appendingPathComponent("sheet.png").path
        let run = try CLIRunner.run(["search", "--model", w.model, "--index", w.pictures, "--cache-dir", w.cache,
                                     "--top-k", "3", "--sheet", sheet, "red", "blue"], in: w.root)
        #expect(run.status == 0, "\(run.stderr)")
        // The table: one block per query, the best picture first.
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "query 1: red")
        #expect(lines.contains { $0.contains("query 2: blue") })
        let firstRow = try #require(lines.first { $0.hasPrefix("     1") })
        #expect(firstRow.contains("more/orange.png"))

        let image = try ImageCodec.decode(contentsOfFile: sheet)
        func count(_ rgb: (UInt8, UInt8, UInt8)) -> Int {
            var n = 0
            for i in stride(from: 0, to: image.pixels.count, by: 3)
            where image.pixels[i] == rgb.0 && image.pixels[i + 1] == rgb.1 && image.pixels[i + 2] == rgb.2 { n += 1 }
            return n
        }
        // Every retrieved 32x32 picture is drawn at 64x64 (doubled), once per time it was retrieved.
        var retrieved: [String: Int] = [:]
        for query in ["red", "blue"] {
            for hit in Self.expected(query, gallery: w.gallery, k: 3) { retrieved[hit.id, default: 0] += 1 }
        }
        for (id, times) in retrieved {
            let rgb = try #require(w.gallery.first { $0.id == id }?.rgb)
            #expect(count(rgb) >= times * 64 * 64, "\(id) drawn \(count(rgb)) pixels")
        }
        let notRetrieved = w.gallery.filter { retrieved[$0.id] == nil && $0.id != "white.png" && $0.id != "grey.png" }
        for item in notRetrieved { #expect(count(item.rgb) < 64 * 64, "\(item.id) was not retrieved but is drawn") }
        #expect(image.width > 3 * 64 && image.height > 2 * 64)
    }

    @Test func refusesAnIndexThatIsNotACollection() throws {
        let w = try Workspace()
        defer { try? FileManager.default.removeItem(at: w.root) }
        let run = try CLIRunner.run(["search", "--model", w.model, "--index", w.root.appendingPathComponent("nothing").path,
                                     "--cache-dir", w.cache, "red"], in: w.root)
        #expect(run.status != 0)
        #expect(run.stderr.contains("nothing"), "\(run.stderr)")
    }
}
