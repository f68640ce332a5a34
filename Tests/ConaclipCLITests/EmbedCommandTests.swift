import Foundation
import Testing
import ConaclipModels

/// `conaclip embed` and `conaclip model` end to end, against what Hugging Face
/// transformers computed for the tiny fixture model
/// (Tests/ConaclipModelsTests/Fixtures/hf-tiny-clip, made by
/// Tests/Reference/make_hf_fixture.py).
@Suite struct EmbedCommandTests {
    struct Expected: Decodable {
        struct Image: Decodable { var file: String }
        var texts: [String]
        var images: [Image]
        var tolerance: Float
    }

    static let fixture = CLIRunner.repositoryRoot.appendingPathComponent("Tests/ConaclipModelsTests/Fixtures/hf-tiny-clip")

    static func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
        guard a.shape == b.shape else { return .infinity }
        return zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    @Test func embedMatchesTransformers() throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.fixture.appendingPathComponent("expected.json")))
        let reference = try SafeTensorsFile(path: Self.fixture.appendingPathComponent("expected.safetensors").path)
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("embeddings.safetensors")
        let images = expected.images.map { Self.fixture.appendingPathComponent($0.file).path }
        let run = try CLIRunner.run(
            ["embed", "--model", Self.fixture.appendingPathComponent("model").path,
             "--image"] + images + ["--text"] + expected.texts + ["--out", out.path, "--chunk-size", "3"],
            in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        let file = try SafeTensorsFile(path: out.path)
        let imageDiff = Self.maxAbsDifference(try file.tensor(named: "image_embeds"), try reference.tensor(named: "image_embeds"))
        let textDiff = Self.maxAbsDifference(try file.tensor(named: "text_embeds"), try reference.tensor(named: "text_embeds"))
        #expect(imageDiff <= expected.tolerance, "image embeddings differ by \(imageDiff)")
        #expect(textDiff <= expected.tolerance, "text embeddings differ by \(textDiff)")
    }

    @Test func embedRefusesAMissingImageWithItsName() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("no-such-image.png").path
        let run = try CLIRunner.run(
            ["embed", "--model", Self.fixture.appendingPathComponent("model").path,
             "--image", missing, "--out", directory.appendingPathComponent("e.safetensors").path],
            in: directory)
        #expect(run.status != 0)
        #expect(run.stderr.contains("no-such-image.png"), "\(run.stderr)")
    }

    @Test func convertKeepsTheEmbeddingsAndInitTakesTheTokenizer() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = Self.fixture.appendingPathComponent("model").path
        let converted = directory.appendingPathComponent("converted").path
        let convert = try CLIRunner.run(["model", "convert", "--model", model, "--out", converted], in: directory)
        #expect(convert.status == 0, "\(convert.stderr)")
        let a = directory.appendingPathComponent("a.safetensors").path, b = directory.appendingPathComponent("b.safetensors").path
        for (dir, out) in [(model, a), (converted, b)] {
            let run = try CLIRunner.run(["embed", "--model", dir, "--text", "a photo of a cat", "two dogs", "--out", out], in: directory)
            #expect(run.status == 0, "\(run.stderr)")
        }
        let original = try SafeTensorsFile(path: a).tensor(named: "text_embeds")
        #expect(try SafeTensorsFile(path: b).tensor(named: "text_embeds") == original)

        // A fresh model from a preset takes its vocabulary from the tokenizer.
        let fresh = directory.appendingPathComponent("fresh").path
        let preset = CLIRunner.repositoryRoot.appendingPathComponent("configs/models/tiny.yaml").path
        let initRun = try CLIRunner.run(["model", "init", "--config", preset, "--tokenizer", model, "--out", fresh, "--seed", "7"], in: directory)
        #expect(initRun.status == 0, "\(initRun.stderr)")
        let config = try CheckpointDirectory(path: fresh).readConfig()
        let source = try CheckpointDirectory(path: model).readConfig()
        #expect(config.textConfig.vocabSize == source.textConfig.vocabSize)
        #expect(config.textConfig.eosTokenId == source.textConfig.eosTokenId)
        #expect(FileManager.default.fileExists(atPath: fresh + "/vocab.json"))
        #expect(FileManager.default.fileExists(atPath: fresh + "/preprocessor_config.json"))
        // Writing over an existing directory needs --force.
        let again = try CLIRunner.run(["model", "init", "--config", preset, "--tokenizer", model, "--out", fresh], in: directory)
        #expect(again.status != 0)
    }
}
