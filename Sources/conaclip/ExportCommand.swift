import ArgumentParser
import ConaclipCluster
import Foundation

/// `conaclip export`: a trained model as a self-contained Hugging Face CLIP directory.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a model (a model directory, a checkpoint or a run's final model) as a Hugging Face CLIP directory.",
        discussion: """
            The output holds config.json, model.safetensors, vocab.json, merges.txt, tokenizer_config.json, \
            special_tokens_map.json and preprocessor_config.json (plus tokenizer.json when the source has it), \
            which transformers' CLIPModel, CLIPTokenizer, CLIPImageProcessor and CLIPProcessor load. \
            Missing tokenizer_config.json / special_tokens_map.json are written from the tokenizer's special \
            tokens and the model's context length. For a run directory the final model is exported (else \
            its newest checkpoint); optimizer state is never copied. The written directory is read back with \
            conaclip's own loader before the command succeeds: in f32 its weights must be bit-identical to \
            the source's. Check it against transformers with Tests/Reference/check_conaclip_dir.py --export.
            """)

    @Option(help: "Model directory, checkpoint directory, or run directory (its final/ model, else its newest checkpoint).")
    var model: String

    @OptionGroup var output: ModelDirectoryWriter.Options

    func run() throws {
        let weightType = try output.weightType()
        let directory = try ModelDigest.resolveModelDirectory(model)
        let loaded = try ModelDirectoryWriter.Source(path: directory)
        let source = loaded.checkpoint
        let config = loaded.config
        let clip = loaded.model
        let sourceDigest = ModelDigest.sha256(of: clip.parameters)

        for required in ["vocab.json", "merges.txt"] where !FileManager.default.fileExists(atPath: source.file(required)) {
            throw ExportError("\(directory) has no \(required); an exported model needs its tokenizer "
                + "(vocab.json and merges.txt, as training runs and `conaclip model init` write them)")
        }
        let tokenizer: CLIPTokenizer
        do { tokenizer = try CLIPTokenizer(directory: URL(fileURLWithPath: directory)) } catch {
            throw ExportError("the tokenizer of \(directory) does not load: \(error)")
        }
        guard tokenizer.vocabularySize <= config.textConfig.vocabSize else {
            throw ExportError("the tokenizer of \(directory) has \(tokenizer.vocabularySize) tokens but the text tower only "
                + "\(config.textConfig.vocabSize)")
        }
        let staging = FileManager.default.temporaryDirectory
            .appendingPathComponent("conaclip-export-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: staging) }
        var files: [String] = []
        var written: [String] = []
        let context = config.textConfig.maxPositionEmbeddings
        for (name, contents) in try Self.missingTokenizerFiles(in: source, tokenizer: tokenizer, contextLength: context) {
            let path = staging.appendingPathComponent(name).path
            try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
            files.append(path)
            written.append(name)
        }

        try loaded.write(output, weightType: weightType, extraTokenizerFiles: files)

        // Read the result back the way every consumer in this project does.
        let reloaded: CLIPEncoder
        do { reloaded = try CLIPEncoder(directory: output.out) } catch {
            throw ExportError("the exported directory \(output.out) does not load back: \(error)")
        }
        let exportedDigest = ModelDigest.sha256(of: reloaded.model.parameters)
        var weightsNote: String
        if weightType == .float32 {
            guard exportedDigest == sourceDigest else {
                throw ExportError("the weights read back from \(output.out) differ from \(directory) "
                    + "(sha256 \(exportedDigest) vs \(sourceDigest))")
            }
            weightsNote = "identical to the source"
        } else {
            var largest: Float = 0
            let a = clip.parameters.values, b = reloaded.model.parameters.values
            for i in 0..<a.count { largest = max(largest, abs(a[i] - b[i])) }
            weightsNote = "rounded to \(output.dtype): largest weight change \(String(format: "%.3g", Double(largest)))"
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: output.out).sorted()) ?? []
        print("exported \(directory) to \(output.out) (\(output.dtype)): \(names.joined(separator: ", "))")
        if !written.isEmpty { print("  written from the tokenizer: \(written.joined(separator: ", "))") }
        print("  \(clip.parameters.count) parameters, weights sha256 \(exportedDigest) (\(weightsNote))")
    }

    /// `tokenizer_config.json` and `special_tokens_map.json` for the names
    /// among them that `source` lacks: CLIPTokenizer's, with the tokenizer's
    /// own special tokens and `model_max_length` = the model's context length.
    static func missingTokenizerFiles(in source: CheckpointDirectory, tokenizer: CLIPTokenizer,
                                      contextLength: Int) throws -> [(String, String)] {
        let needConfig = !FileManager.default.fileExists(atPath: source.file("tokenizer_config.json"))
        let needMap = !FileManager.default.fileExists(atPath: source.file("special_tokens_map.json"))
        guard needConfig || needMap else { return [] }
        func token(_ id: Int32?, _ role: String) throws -> String {
            guard let id, let text = tokenizer.token(for: id) else {
                throw ExportError("\(source.path): the tokenizer has no \(role) token to write into the tokenizer files")
            }
            return text
        }
        let bos = try token(tokenizer.bosTokenId, "start")
        let eos = try token(tokenizer.eosTokenId, "end")
        let pad = try token(tokenizer.padTokenId, "padding")
        let unk = try token(tokenizer.unknownTokenId ?? tokenizer.eosTokenId, "unknown")
        let quoted = JSONStringLiteral.quoted
        var files: [(String, String)] = []
        if needConfig {
            files.append(("tokenizer_config.json", """
                {
                  "bos_token": \(quoted(bos)),
                  "clean_up_tokenization_spaces": false,
                  "do_lower_case": true,
                  "eos_token": \(quoted(eos)),
                  "errors": "replace",
                  "model_max_length": \(contextLength),
                  "pad_token": \(quoted(pad)),
                  "tokenizer_class": "CLIPTokenizer",
                  "unk_token": \(quoted(unk))
                }

                """))
        }
        if needMap {
            files.append(("special_tokens_map.json", """
                {
                  "bos_token": \(quoted(bos)),
                  "eos_token": \(quoted(eos)),
                  "pad_token": \(quoted(pad)),
                  "unk_token": \(quoted(unk))
                }

                """))
        }
        return files
    }
}

/// A plain error message of `conaclip export`.
struct ExportError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
