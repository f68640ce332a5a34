import Foundation
import Testing
@testable import ConaclipData

/// The tiny Hugging Face CLIP fixture (Tests/ConaclipModelsTests/Fixtures/hf-tiny-clip,
/// written by Tests/Reference/make_hf_fixture.py) and small datasets over its images.
enum TeacherCacheFixture {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ConaclipModelsTests/Fixtures/hf-tiny-clip")
    static let model = root.appendingPathComponent("model").path
    static let images = ["rgb.png", "gray.png", "palette.png", "photo.jpg", "rgba.png"]
        .map { root.appendingPathComponent("images/\($0)").path }
    static let words = ["a", "photo", "of", "red", "cat", "dog", "on", "the", "grey", "mat", "small", "big"]

    /// A dataset held in memory.
    struct Dataset: PairDataset {
        var name: String
        var records: [PairRecord]
        var count: Int { records.count }
        func record(at index: Int) -> PairRecord { records[index] }
    }

    /// `count` records cycling through the fixture images with varied captions;
    /// `prefix` changes the ids (another dataset with the same pictures).
    static func dataset(count: Int, prefix: String = "r") -> Dataset {
        var records: [PairRecord] = []
        for i in 0..<count {
            let caption = (0...(i % 5)).map { words[(i * 7 + $0 * 3) % words.count] }.joined(separator: " ")
            records.append(PairRecord(id: "\(prefix)\(i)", image: .file(path: images[i % images.count]),
                                      caption: caption, location: "inline:\(i + 1)"))
        }
        return Dataset(name: "inline", records: records)
    }

    static func source(split: String? = nil) -> TeacherCacheSource {
        TeacherCacheSource(teacherPath: model, dataPath: "inline.jsonl", split: split,
                           chunkSize: TeacherEmbedder.chunkSize, blasCore: BLAS.coreName)
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("conaclip-cache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Copies the fixture model directory to `destination`.
    static func copyModel(to destination: URL) throws {
        try FileManager.default.copyItem(at: URL(fileURLWithPath: model), to: destination)
    }
}

@Suite("Teacher embedding cache: building and reading")
struct TeacherCacheTests {
    @Test("a built cache reads back the raw projected embeddings of every record, by index and by id")
    func roundTrip() throws {
        let dir = try TeacherCacheFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let teacher = try TeacherEmbedder(directory: TeacherCacheFixture.model)
        let dataset = TeacherCacheFixture.dataset(count: 21)
        let path = dir.appendingPathComponent("teacher.cache").path
        let written = try TeacherCacheBuilder.write(teacher: teacher, dataset: dataset, datasetDigest: "digest-1",
                                                    to: path, source: TeacherCacheFixture.source())
        let key = TeacherCacheKey(teacher: teacher, dataset: dataset, datasetDigest: "digest-1")
        let cache = try TeacherEmbeddingCache.open(path: path, expecting: key)
        #expect(cache.header == written)
        #expect(cache.count == 21 && cache.dim == 24)
        #expect(cache.header.recordIDs == dataset.records.map(\.id))

        // Each record against a forward pass of its canonical chunk through the public towers.
        let encoder = try CLIPEncoder(directory: TeacherCacheFixture.model)
        for chunk in [0..<16, 16..<21] {
            let pixels = encoder.preprocessor.preprocess(try chunk.map {
                try RGBImage(contentsOfFile: TeacherCacheFixture.images[$0 % 5])
            })
            var images = [Float](repeating: 0, count: chunk.count * 24)
            try pixels.withUnsafeBufferPointer { p in
                try images.withUnsafeMutableBufferPointer {
                    try encoder.model.vision.forward(pixels: p, batch: chunk.count, output: $0, retainActivations: false)
                }
            }
            let ids = chunk.flatMap { encoder.tokenizer.encode(dataset.record(at: $0).caption, contextLength: 16) }
            var texts = [Float](repeating: 0, count: chunk.count * 24)
            try ids.withUnsafeBufferPointer { p in
                try texts.withUnsafeMutableBufferPointer {
                    try encoder.model.text.forward(ids: p, batch: chunk.count, output: $0, retainActivations: false)
                }
            }
            for (row, index) in chunk.enumerated() {
                #expect(Array(cache.imageEmbedding(index)) == Array(images[(row * 24)..<((row + 1) * 24)]), "image \(index)")
                #expect(Array(cache.textEmbedding(index)) == Array(texts[(row * 24)..<((row + 1) * 24)]), "text \(index)")
                #expect(cache.index(ofRecord: dataset.record(at: index).id) == index)
            }
        }
        #expect(cache.index(ofRecord: "nope") == nil)

        // Raw, not normalised: normalising gives what `conaclip embed` (CLIPEncoder) returns.
        let row = Array(cache.imageEmbedding(3))
        let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(abs(norm - 1) > 1e-3)
        let normalised = try encoder.embed(images: [try RGBImage(contentsOfFile: TeacherCacheFixture.images[3])])
        for (a, b) in zip(row.map { $0 / norm }, normalised.scalars) { #expect(abs(a - b) < 1e-5) }
    }

    @Test("a record's embedding is the same bits whatever range of records is asked for")
    func embeddingDoesNotDependOnTheRange() throws {
        // OpenBLAS rounds a GEMM row differently depending on the call's row
        // count, so this holds only because every record is computed in its
        // canonical chunk.
        let teacher = try TeacherEmbedder(directory: TeacherCacheFixture.model)
        let dataset = TeacherCacheFixture.dataset(count: 37)
        let d = teacher.dim
        func embed(_ range: Range<Int>) throws -> ([Float], [Float]) {
            var images = [Float](repeating: 0, count: range.count * d)
            var texts = [Float](repeating: 0, count: range.count * d)
            try images.withUnsafeMutableBufferPointer { i in
                try texts.withUnsafeMutableBufferPointer { t in
                    try teacher.embed(dataset, records: range, images: i, texts: t)
                }
            }
            return (images, texts)
        }
        let (allImages, allTexts) = try embed(0..<37)
        for range in [0..<1, 7..<8, 15..<16, 36..<37, 5..<12, 10..<35, 16..<37, 32..<37] {
            let (images, texts) = try embed(range)
            let rows = (range.lowerBound * d)..<(range.upperBound * d)
            #expect(images == Array(allImages[rows]), "images \(range)")
            #expect(texts == Array(allTexts[rows]), "texts \(range)")
        }
        #expect(throws: TeacherCacheError.invalidSlice(start: 30, end: 38, count: 37)) { try embed(30..<38) }
    }

    @Test("slices are contiguous, chunk-aligned, cover every record once and never empty")
    func slicesAreCanonical() {
        for count in [1, 15, 16, 17, 40, 100, 1000] {
            for parts in [1, 2, 3, 5, 8, 200] {
                let slices = TeacherCacheBuilder.slices(count: count, parts: parts, alignment: 16)
                #expect(slices.first?.lowerBound == 0)
                #expect(slices.last?.upperBound == count)
                #expect(slices.count <= parts)
                for (a, b) in zip(slices, slices.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
                for slice in slices {
                    #expect(!slice.isEmpty)
                    #expect(slice.lowerBound % 16 == 0)
                }
            }
        }
        #expect(TeacherCacheBuilder.slices(count: 0, parts: 3).isEmpty)
        #expect(TeacherCacheBuilder.slices(count: 40, parts: 2, alignment: 16) == [0..<16, 16..<40])
    }

    @Test("merging part files gives byte for byte the file a single pass writes, in any part order")
    func mergeIsBitIdentical() throws {
        let dir = try TeacherCacheFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let teacher = try TeacherEmbedder(directory: TeacherCacheFixture.model)
        let dataset = TeacherCacheFixture.dataset(count: 37)
        let whole = dir.appendingPathComponent("whole.cache").path
        try TeacherCacheBuilder.write(teacher: teacher, dataset: dataset, datasetDigest: "d", to: whole,
                                      source: TeacherCacheFixture.source())
        let expected = try Data(contentsOf: URL(fileURLWithPath: whole))
        for parts in [2, 3] {
            var paths: [String] = []
            for (i, slice) in TeacherCacheBuilder.slices(count: 37, parts: parts).enumerated() {
                let part = dir.appendingPathComponent("part-\(parts)-\(i)").path
                let header = try TeacherCacheBuilder.write(teacher: teacher, dataset: dataset, datasetDigest: "d",
                                                           records: slice, to: part, source: TeacherCacheFixture.source())
                #expect(!header.isComplete)
                paths.append(part)
            }
            let merged = dir.appendingPathComponent("merged-\(parts).cache").path
            try TeacherCacheBuilder.merge(parts: paths.reversed(), into: merged)
            #expect(try Data(contentsOf: URL(fileURLWithPath: merged)) == expected, "\(parts) parts")
        }
    }

    @Test("merging refuses gaps, overlaps and parts of different keys")
    func mergeRefusesBadParts() throws {
        let dir = try TeacherCacheFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let teacher = try TeacherEmbedder(directory: TeacherCacheFixture.model)
        let dataset = TeacherCacheFixture.dataset(count: 40)
        func part(_ name: String, _ slice: Range<Int>, digest: String = "d") throws -> String {
            let path = dir.appendingPathComponent(name).path
            try TeacherCacheBuilder.write(teacher: teacher, dataset: dataset, datasetDigest: digest, records: slice,
                                          to: path, source: TeacherCacheFixture.source())
            return path
        }
        let a = try part("a", 0..<16), b = try part("b", 16..<40), gap = try part("gap", 32..<40)
        let other = try part("other", 16..<40, digest: "other")
        let out = dir.appendingPathComponent("out").path
        #expect(throws: TeacherCacheError.self) { try TeacherCacheBuilder.merge(parts: [a, gap], into: out) }
        #expect(throws: TeacherCacheError.self) { try TeacherCacheBuilder.merge(parts: [a, b, gap], into: out) }
        #expect(throws: TeacherCacheError.self) { try TeacherCacheBuilder.merge(parts: [a, other], into: out) }
        #expect(throws: TeacherCacheError.self) { try TeacherCacheBuilder.merge(parts: [a], into: out) }
        #expect(!FileManager.default.fileExists(atPath: out))
        try TeacherCacheBuilder.merge(parts: [a, b], into: out)
        #expect(try TeacherEmbeddingCache.inspect(path: out).header.isComplete)
    }
}
