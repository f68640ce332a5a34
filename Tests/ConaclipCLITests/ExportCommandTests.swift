import Foundation
import Testing
import ConaclipModels

/// `conaclip export`: the files a Hugging Face CLIP directory needs, with the
/// keys transformers reads, and a round trip through conaclip's own loader
/// that gives identical embeddings (f32) or close ones (bf16).
@Suite struct ExportCommandTests {
    static func json(_ path: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        return try #require(object as? [String: Any], "\(path) is not a JSON object")
    }

    /// `conaclip embed` of a few pictures and texts with `model`, as raw float arrays.
    static func embed(_ model: String, pictures: [String], in directory: URL) throws -> (images: [Float], texts: [Float]) {
        let out = directory.appendingPathComponent("embed-\(UUID().uuidString).safetensors").path
        let run = try CLIRunner.run(["embed", "--model", model, "--image"] + pictures
                                    + ["--text", "red", "green and blue", "a grey sky", "--out", out], in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        let file = try SafeTensorsFile(path: out)
        return (try file.tensor(named: "image_embeds").scalars, try file.tensor(named: "text_embeds").scalars)
    }

    static func pictures(in directory: URL) throws -> [String] {
        try ColourCLIP.palette.prefix(5).map { name, rgb in
            let path = directory.appendingPathComponent("\(name).png").path
            try ColourCLIP.writePicture(rgb, to: path)
            return path
        }
    }

    @Test func exportWritesEveryFileWithTheKeysTransformersReadsAndRoundTrips() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("source").path
        try ColourCLIP.write(to: source)
        // A source without the two optional tokenizer files: export writes them.
        try FileManager.default.removeItem(atPath: source + "/tokenizer_config.json")
        try FileManager.default.removeItem(atPath: source + "/special_tokens_map.json")
        let out = directory.appendingPathComponent("exported").path
        let run = try CLIRunner.run(["export", "--model", source, "--out", out], in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("identical to the source"), "\(run.stdout)")

        let names = Set(try FileManager.default.contentsOfDirectory(atPath: out))
        #expect(names == ["config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer_config.json",
                          "special_tokens_map.json", "preprocessor_config.json"])
        let config = try Self.json(out + "/config.json")
        #expect(config["model_type"] as? String == "clip")
        #expect((config["architectures"] as? [String]) == ["CLIPModel"])
        #expect(config["projection_dim"] as? Int == 3)
        let text = try #require(config["text_config"] as? [String: Any])
        let vision = try #require(config["vision_config"] as? [String: Any])
        #expect(text["max_position_embeddings"] as? Int == 8)
        #expect(vision["image_size"] as? Int == 32 && vision["patch_size"] as? Int == 8)

        let tokenizerConfig = try Self.json(out + "/tokenizer_config.json")
        #expect(tokenizerConfig["tokenizer_class"] as? String == "CLIPTokenizer")
        #expect(tokenizerConfig["model_max_length"] as? Int == 8)
        #expect(tokenizerConfig["bos_token"] as? String == "<|startoftext|>")
        #expect(tokenizerConfig["eos_token"] as? String == "<|endoftext|>")
        let specials = try Self.json(out + "/special_tokens_map.json")
        #expect(Set(specials.keys) == ["bos_token", "eos_token", "pad_token", "unk_token"])
        let preprocessor = try Self.json(out + "/preprocessor_config.json")
        #expect(preprocessor["image_processor_type"] as? String == "CLIPImageProcessor")
        #expect((preprocessor["crop_size"] as? [String: Int]) == ["height": 32, "width": 32])
        #expect((preprocessor["size"] as? [String: Int]) == ["shortest_edge": 32])
        #expect((preprocessor["image_mean"] as? [Double])?.count == 3 && (preprocessor["image_std"] as? [Double])?.count == 3)

        // Same tensors, same names, float32; the vocabulary is copied byte for byte.
        let original = try SafeTensorsFile(path: source + "/model.safetensors")
        let exported = try SafeTensorsFile(path: out + "/model.safetensors")
        #expect(Set(exported.names) == Set(original.names))
        for name in original.names { #expect(try exported.tensor(named: name).scalars == original.tensor(named: name).scalars, "\(name)") }
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/vocab.json")) == Data(contentsOf: URL(fileURLWithPath: source + "/vocab.json")))

        let pictures = try Self.pictures(in: directory)
        let before = try Self.embed(source, pictures: pictures, in: directory)
        let after = try Self.embed(out, pictures: pictures, in: directory)
        #expect(before.images == after.images)
        #expect(before.texts == after.texts)
        // And they are the closed-form answers.
        let expected = ColourCLIP.palette.prefix(5).flatMap { ColourCLIP.imageEmbedding($0.rgb) }
        #expect(zip(after.images, expected).allSatisfy { abs(Double($0) - $1) < 1e-4 })

        // An existing output is refused without --force.
        let again = try CLIRunner.run(["export", "--model", source, "--out", out], in: directory)
        #expect(again.status != 0)
        #expect(again.stderr.contains("already exists"), "\(again.stderr)")
    }

    @Test func exportTakesARunsFinalModelOrNewestCheckpointAndOtherPrecisions() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = directory.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run.appendingPathComponent("checkpoints"), withIntermediateDirectories: true)
        // Without final/, the newest checkpoint is the model; the swapped one is at the later step.
        try ColourCLIP.write(to: run.appendingPathComponent("checkpoints/step-000002").path)
        try ColourCLIP.write(to: run.appendingPathComponent("checkpoints/step-000010").path, swap: true)
        try Data("{}".utf8).write(to: run.appendingPathComponent("checkpoints/step-000010/training_state.json"))
        let pictures = try Self.pictures(in: directory)

        let fromCheckpoint = directory.appendingPathComponent("from-checkpoint").path
        let first = try CLIRunner.run(["export", "--model", run.path, "--out", fromCheckpoint], in: directory)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("step-000010"), "\(first.stdout)")
        #expect(!FileManager.default.fileExists(atPath: fromCheckpoint + "/training_state.json"))
        let swapped = try Self.embed(run.appendingPathComponent("checkpoints/step-000010").path, pictures: pictures, in: directory)
        #expect(try Self.embed(fromCheckpoint, pictures: pictures, in: directory).texts == swapped.texts)

        // With final/, final is the model.
        try ColourCLIP.write(to: run.appendingPathComponent("final").path)
        let fromFinal = directory.appendingPathComponent("from-final").path
        let second = try CLIRunner.run(["export", "--model", run.path, "--out", fromFinal, "--dtype", "bf16"], in: directory)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("final"), "\(second.stdout)")
        let header = try SafeTensorsFile(path: fromFinal + "/model.safetensors")
        #expect(header.entries.values.allSatisfy { $0.dtype == .bf16 })
        let exact = try Self.embed(run.appendingPathComponent("final").path, pictures: pictures, in: directory)
        let rounded = try Self.embed(fromFinal, pictures: pictures, in: directory)
        let largest = zip(exact.images + exact.texts, rounded.images + rounded.texts).map { abs($0 - $1) }.max() ?? .infinity
        #expect(largest < 0.02, "bf16 moved an embedding by \(largest)")
        #expect(exact.texts != swapped.texts)
    }

    @Test func exportRefusesAModelWithoutATokenizer() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("source").path
        try ColourCLIP.write(to: source)
        try FileManager.default.removeItem(atPath: source + "/merges.txt")
        let run = try CLIRunner.run(["export", "--model", source, "--out", directory.appendingPathComponent("out").path],
                                    in: directory)
        #expect(run.status != 0)
        #expect(run.stderr.contains("merges.txt"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("out").path))
    }

    /// `export`, `model convert` and `model init` share their output options:
    /// each refuses an unknown precision, and writes nothing.
    @Test func everyModelWritingCommandRefusesAnUnknownPrecision() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("source").path
        try ColourCLIP.write(to: source)
        let out = directory.appendingPathComponent("out").path
        let preset = CLIRunner.repositoryRoot.appendingPathComponent("configs/models/tiny.yaml").path
        for command in [["export", "--model", source], ["model", "convert", "--model", source],
                        ["model", "init", "--config", preset, "--tokenizer", source]] {
            let run = try CLIRunner.run(command + ["--out", out, "--dtype", "f8"], in: directory)
            #expect(run.status != 0, "\(command) accepted --dtype f8")
            #expect(run.stderr.contains("--dtype must be f32, f16 or bf16, got f8"), "\(command): \(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(command) wrote \(out)")
        }
    }
}
