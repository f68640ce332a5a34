import Foundation
import Testing
@testable import ConaclipData

/// The data side of training: the built-in synthetic shapes, batches made
/// from a manifest, and a whole plain-CLIP session on a small JSONL manifest.
@Suite struct TrainingDataTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func syntheticShapesAreDeterministicAndShowTheirCaption() {
        let shapes = SyntheticShapes(pairs: 64, seed: 3)
        #expect(shapes.image(at: 5) == SyntheticShapes(pairs: 64, seed: 3).image(at: 5))
        #expect(shapes.caption(at: 5) == SyntheticShapes(pairs: 64, seed: 3).caption(at: 5))
        #expect((0..<16).map(shapes.caption(at:)) != (0..<16).map(SyntheticShapes(pairs: 64, seed: 4).caption(at:)))
        var colours = Set<String>(), kinds = Set<String>()
        for index in 0..<64 {
            let item = shapes.item(at: index)
            let image = shapes.image(at: index)
            let (r, g, b) = SyntheticShapes.colours[item.colour].rgb
            var painted = 0
            for y in 0..<image.height {
                for x in 0..<image.width {
                    let pixel = image[x, y]
                    if pixel == (r, g, b) {
                        painted += 1
                    } else {
                        #expect(pixel == (255, 255, 255), "pair \(index): only the shape's colour on white")
                    }
                }
            }
            // Every shape is visible; big ones cover more than small ones ever do.
            let fraction = Double(painted) / Double(image.width * image.height)
            #expect(fraction > (item.big ? 0.08 : 0.01), "pair \(index) (\(item.caption)) covers \(fraction)")
            #expect(item.big || fraction < 0.12, "pair \(index) (\(item.caption)) covers \(fraction)")
            let words = item.caption.split(separator: " ")
            #expect(words.count == 4 && words[0] == "a")
            colours.insert(String(words[2])); kinds.insert(String(words[3]))
        }
        #expect(colours.count == SyntheticShapes.colours.count)
        #expect(kinds.count == SyntheticShapes.Shape.allCases.count)
    }

    /// Writes `count` synthetic images and a JSONL manifest into `directory`.
    static func writeManifest(in directory: URL, count: Int) throws -> String {
        let shapes = SyntheticShapes(pairs: count, seed: 1, imageSize: 40)
        var lines: [String] = []
        for index in 0..<count {
            let name = "image-\(index).png"
            try shapes.image(at: index).writePNG(toFile: directory.appendingPathComponent(name).path)
            lines.append("{\"id\": \"p\(index)\", \"image\": \"\(name)\", \"caption\": \"\(shapes.caption(at: index))\", "
                + "\"split\": \"\(index < count - 2 ? "train" : "test")\"}")
        }
        let manifest = directory.appendingPathComponent("manifest.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: manifest, atomically: true, encoding: .utf8)
        return manifest.path
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("conaclip-train-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func batchesHoldTheSampledPairsPreprocessedAndTokenized() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let manifest = try Self.writeManifest(in: directory, count: 10)
        let pairs = try TrainingPairs.open(.manifest(path: manifest, split: "train", onBadRecord: .stop))
        #expect(pairs.count == 8)
        let vocabulary = try BPETrainer(vocabularySize: 520, contextLength: 12).train(pairs.captions)
        let tokenizer = try vocabulary.makeTokenizer()
        let preprocessor = try ImageProcessorSettings(imageSize: 32).preprocessor()
        let sampler = try DeterministicSampler(recordCount: pairs.count, batchSize: 4, microShards: 2, seed: 7)
        let teacherPixels = try ImageProcessorSettings(imageSize: 16).preprocessor()
        let source = DatasetBatchSource(pairs: pairs, sampler: sampler,
                                        student: TowerInputs(preprocessor: preprocessor, tokenizer: tokenizer, contextLength: 12),
                                        teacherPixels: teacherPixels)
        let batch = TrainingBatch()
        for step in [0, 1, 5] {
            try source.fill(batch, step: step, batchSize: 4)
            #expect(batch.indices == sampler.batch(step: step))
            #expect(batch.teacherIDs == nil)
            for (row, index) in batch.indices.enumerated() {
                let image = try pairs.image(at: index)
                let expected = preprocessor.preprocess([image])
                #expect(Array(batch.pixels[(row * 3072)..<((row + 1) * 3072)]) == expected)
                let teacher = try #require(batch.teacherPixels)
                #expect(Array(teacher[(row * 768)..<((row + 1) * 768)]) == teacherPixels.preprocess([image]))
                #expect(Array(batch.ids[(row * 12)..<((row + 1) * 12)])
                        == tokenizer.encode(pairs.caption(at: index), contextLength: 12))
            }
        }
    }

    @Test func aPlainCLIPSessionOnAManifestEndsWithAModelTheEncoderLoads() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let manifest = try Self.writeManifest(in: directory, count: 10)
        let preset = Self.repositoryRoot.appendingPathComponent("configs/models/tiny.yaml").path
        let yaml = """
        model: \(preset)
        data: {manifest: \(manifest)}
        tokenizer: {learn: {vocab_size: 520}}
        batch_size: 4
        micro_shards: 2
        epochs: 2
        optimizer: {lr: 1.0e-3, warmup_steps: 1}
        checkpoint: {every_steps: 2}
        log: {every_steps: 1}
        """
        let config = try TrainingConfig.parse(yaml: yaml, source: "inline.yaml")
        var said: [String] = []
        let session = try TrainingSession(config: config, outputDirectory: directory.appendingPathComponent("run").path,
                                          progressMode: .silent, say: { said.append($0) })
        #expect(session.totalSteps == 4)  // 8 training pairs, batches of 4, 2 epochs
        #expect(said.first == "data: 8 pairs from \(manifest)")
        let outcome = try session.trainer.run(from: 0)
        guard case let .completed(steps, finalDirectory, digest, _) = outcome else {
            Issue.record("the run did not complete: \(outcome)")
            return
        }
        #expect(steps == 4)
        let encoder = try CLIPEncoder(directory: finalDirectory)
        #expect(ParameterDigest.sha256(of: encoder.model.parameters) == digest)
        let texts = try encoder.embed(texts: ["a small red circle"])
        #expect(texts.shape == [1, 32])
        #expect(RunDirectory(path: directory.appendingPathComponent("run").path).checkpointSteps() == [2, 4])
    }
}
