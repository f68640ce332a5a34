import Foundation
import Testing
@testable import ConaclipData

@Suite("Teacher embedding cache: as the trainer's teacher source")
struct TeacherCacheTrainerTests {
    @Test("CachedTeacher copies the rows of a micro-shard by dataset index and refuses unknown indices")
    func cachedTeacherRows() throws {
        let dir = try TeacherCacheFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let teacher = try TeacherEmbedder(directory: TeacherCacheFixture.model)
        let dataset = TeacherCacheFixture.dataset(count: 20)
        let config = TeacherCacheConfig(path: dir.appendingPathComponent("t.cache").path, onStale: .rebuild)
        let cache = try TeacherEmbeddingCache.open(config: config, teacher: teacher, dataset: dataset,
                                                   datasetDigest: "d", dataPath: "pairs.jsonl", split: "train")
        let source = CachedTeacher(cache: cache)
        #expect(source.embeddingWidth == 24)

        let batch = TrainingBatch()
        batch.resize(count: 4, valuesPerImage: 1, contextLength: 1)
        batch.indices = [19, 3, 0, 7]
        var image = [Float](repeating: .nan, count: 2 * 24), text = [Float](repeating: .nan, count: 2 * 24)
        try image.withUnsafeMutableBufferPointer { i in
            try text.withUnsafeMutableBufferPointer { t in try source.embed(batch, rows: 1..<3, image: i, text: t) }
        }
        #expect(Array(image[0..<24]) == Array(cache.imageEmbedding(3)))
        #expect(Array(image[24..<48]) == Array(cache.imageEmbedding(0)))
        #expect(Array(text[0..<24]) == Array(cache.textEmbedding(3)))
        #expect(Array(text[24..<48]) == Array(cache.textEmbedding(0)))

        batch.indices = [19, 20, 0, 7]
        do {
            try image.withUnsafeMutableBufferPointer { i in
                try text.withUnsafeMutableBufferPointer { t in try source.embed(batch, rows: 0..<2, image: i, text: t) }
            }
            Issue.record("index 20 of a 20-record cache was accepted")
        } catch {
            #expect("\(error)".contains("dataset index 20 is outside the teacher cache"))
        }
    }

    @Test("opening from the config section rebuilds a missing cache under rebuild and names the command under refuse")
    func openFromConfig() throws {
        let dir = try TeacherCacheFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let teacher = try TeacherEmbedder(directory: TeacherCacheFixture.model)
        let dataset = TeacherCacheFixture.dataset(count: 9)
        let path = dir.appendingPathComponent("t.cache").path
        do {
            _ = try TeacherEmbeddingCache.open(config: TeacherCacheConfig(path: path), teacher: teacher, dataset: dataset,
                                               datasetDigest: "d", dataPath: "pairs.jsonl", split: nil)
            Issue.record("a missing cache opened under refuse")
        } catch {
            #expect(error == .missing(path: path, rebuild:
                "conaclip cache build --teacher \(TeacherCacheFixture.model) --data pairs.jsonl --out \(path)"))
        }
        let cache = try TeacherEmbeddingCache.open(config: TeacherCacheConfig(path: path, onStale: .rebuild),
                                                   teacher: teacher, dataset: dataset, datasetDigest: "d",
                                                   dataPath: "pairs.jsonl", split: nil)
        #expect(cache.count == 9 && cache.header.source.dataPath == "pairs.jsonl")
    }
}
