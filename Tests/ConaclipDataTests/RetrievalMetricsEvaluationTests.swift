import Foundation
import Testing
@testable import ConaclipData

/// `ModelEvaluation` on the tiny Hugging Face fixture model
/// (Tests/ConaclipModelsTests/Fixtures/hf-tiny-clip): skipped images leave
/// their pair out, the embeddings are the encoder's, and the failure cases
/// say what went wrong.
@Suite struct RetrievalMetricsEvaluationTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ConaclipModelsTests/Fixtures/hf-tiny-clip")

    static func records() -> [PairRecord] {
        let names = ["rgb.png", "gray.png", "photo.jpg", "palette.png", "rgba.png"]
        return names.enumerated().map { i, name in
            PairRecord(id: "r\(i)", image: .file(path: fixture.appendingPathComponent("images/\(name)").path),
                       caption: "picture \(name)", split: "test", location: "test.jsonl:\(i + 1)")
        }
    }

    @Test func skippedImagesLeaveTheirPairOutAndEmbeddingsAreTheEncoders() throws {
        let model = Self.fixture.appendingPathComponent("model").path
        let encoder = try CLIPEncoder(directory: model, chunkSize: 2)
        let evaluation = try ModelEvaluation(encoder: encoder, modelPath: model, batch: 2)
        let records = Self.records()
        let outcome = try evaluation.run(records: records) { record, report throws(DatasetError) in
            if record.id == "r1" {
                try report.handle(.brokenImage(location: record.location, reason: "made broken by the test"), policy: .skip)
                return nil
            }
            return try PairImageLoader.load(record)
        }
        #expect(outcome.records.map(\.id) == ["r0", "r2", "r3", "r4"])
        #expect(outcome.skipped.skippedCount == 1)
        #expect(outcome.skipped.firstSkipped.first?.location == "test.jsonl:2")
        #expect(outcome.throughput.images == 4 && outcome.throughput.texts == 4)
        #expect(outcome.throughput.imageSeconds > 0 && outcome.throughput.textSeconds > 0)

        let kept = outcome.records
        let images = try encoder.embed(images: kept.map { try PairImageLoader.load($0) })
        let texts = try encoder.embed(texts: kept.map(\.caption))
        let imageDiff = zip(images.scalars, outcome.imageEmbeddings.scalars).map { abs($0 - $1) }.max() ?? .infinity
        let textDiff = zip(texts.scalars, outcome.textEmbeddings.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(imageDiff < 1e-5 && textDiff < 1e-5, "image \(imageDiff), text \(textDiff)")
        let direct = try RetrievalMetrics.evaluate(imageEmbeddings: outcome.imageEmbeddings,
                                                   textEmbeddings: outcome.textEmbeddings, groups: [0, 1, 2, 3])
        #expect(outcome.retrieval == direct)

        let counts = ParameterCounts(model: encoder.model)
        #expect(counts.vision + counts.text + 1 == counts.total)
        #expect(counts.vision > 0 && counts.text > 0)
    }

    @Test func everyImageSkippedOrNoRecordsIsAnError() throws {
        let model = Self.fixture.appendingPathComponent("model").path
        let encoder = try CLIPEncoder(directory: model)
        let evaluation = try ModelEvaluation(encoder: encoder, modelPath: model, batch: 4)
        do throws(ModelEvaluationError) {
            _ = try evaluation.run(records: Self.records()) { record, report throws(DatasetError) in
                try report.handle(.brokenImage(location: record.location, reason: "broken"), policy: .skip)
                return nil
            }
            Issue.record("expected an error")
        } catch {
            guard case let .empty(reason) = error else { Issue.record("wrong error \(error)"); return }
            #expect(reason.contains("skipped 5 bad records"), "\(reason)")
        }
        // Under `stop` the loader's error comes out as it is.
        do throws(ModelEvaluationError) {
            _ = try evaluation.run(records: Self.records()) { record, _ throws(DatasetError) in
                throw .brokenImage(location: record.location, reason: "broken")
            }
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "test.jsonl:1: broken")
        }
        #expect(throws: ModelEvaluationError.self) { try ModelEvaluation(encoder: encoder, modelPath: model, batch: 0) }
        #expect(throws: ModelEvaluationError.self) {
            try evaluation.run(records: []) { _, _ throws(DatasetError) in nil }
        }
    }
}
