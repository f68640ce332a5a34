import ArgumentParser
import ConaclipCluster
import Foundation

/// `conaclip model`: create and convert model directories.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Create or convert CLIP model directories (Hugging Face layout).",
        subcommands: [ModelInitCommand.self, ModelConvertCommand.self])
}

/// `conaclip model init`: a freshly initialised model from a preset and a tokenizer.
struct ModelInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a randomly initialised model directory from a preset and a tokenizer directory.",
        discussion: """
        The text tower's vocab_size and bos/eos/pad token ids are taken from the \
        tokenizer (vocab.json + merges.txt), replacing the preset's placeholders. \
        The directory holds config.json, model.safetensors, the tokenizer files and \
        preprocessor_config.json, and loads in transformers.CLIPModel.
        """)

    @Option(help: "Model preset (YAML, e.g. configs/models/student-64.yaml).")
    var config: String

    @Option(help: "Directory with the tokenizer files (vocab.json, merges.txt, ...).")
    var tokenizer: String

    @Option(help: "Output model directory.")
    var out: String

    @Option(help: "Seed of the initial weights.")
    var seed: UInt64 = 0

    @Option(help: "Weight precision on disk: f32, f16 or bf16.")
    var dtype = "f32"

    @Flag(help: "Replace an existing output directory.")
    var force = false

    func run() throws {
        guard let weightType = WeightDType(argument: dtype) else {
            throw ValidationError("--dtype must be f32, f16 or bf16, got \(dtype)")
        }
        var preset = try ModelPreset.load(path: config)
        let vocabulary = try CLIPTokenizer(directory: URL(fileURLWithPath: tokenizer))
        preset.textConfig.vocabSize = vocabulary.vocabularySize
        preset.textConfig.bosTokenId = Int(vocabulary.bosTokenId)
        preset.textConfig.eosTokenId = Int(vocabulary.eosTokenId)
        preset.textConfig.padTokenId = Int(vocabulary.padTokenId)
        try preset.validate(source: config)
        let clip = try CLIPModel(config: preset)
        clip.initialize(seed: seed)
        try ModelDirectoryWriter.write(to: out, config: preset, store: clip.parameters, dtype: weightType,
                                       tokenizerFiles: CheckpointDirectory(path: tokenizer).tokenizerFiles,
                                       replaceExisting: force)
        print("wrote \(out): \(clip.parameters.count) parameters, vocabulary \(vocabulary.vocabularySize)")
    }
}

/// `conaclip model convert`: re-write a model directory (e.g. in another precision).
struct ModelConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Re-write a model directory in conaclip's layout, optionally in another precision.")

    @Option(help: "Input model directory (Hugging Face CLIP layout).")
    var model: String

    @Option(help: "Output model directory.")
    var out: String

    @Option(help: "Weight precision on disk: f32, f16 or bf16.")
    var dtype = "f32"

    @Flag(help: "Replace an existing output directory.")
    var force = false

    func run() throws {
        guard let weightType = WeightDType(argument: dtype) else {
            throw ValidationError("--dtype must be f32, f16 or bf16, got \(dtype)")
        }
        let source = CheckpointDirectory(path: model)
        let config = try source.readConfig()
        let clip = try CLIPModel(config: config)
        try source.loadWeights(into: clip.parameters)
        let settings = try ImageProcessorSettings(directory: model, imageSize: config.visionConfig.imageSize)
        try ModelDirectoryWriter.write(to: out, config: config, store: clip.parameters, dtype: weightType,
                                       tokenizerFiles: source.tokenizerFiles, imageSettings: settings,
                                       replaceExisting: force)
        print("wrote \(out) (\(dtype))")
    }
}

/// Writes a complete model directory: weights and config through
/// `CheckpointDirectory.write` (atomic), plus tokenizer files and
/// `preprocessor_config.json`.
enum ModelDirectoryWriter {
    static func write(to path: String, config: CLIPConfig, store: ParameterStore, dtype: WeightDType,
                      tokenizerFiles: [String], imageSettings: ImageProcessorSettings? = nil,
                      replaceExisting: Bool) throws {
        let settings = imageSettings ?? ImageProcessorSettings(imageSize: config.visionConfig.imageSize)
        let staging = FileManager.default.temporaryDirectory
            .appendingPathComponent("conaclip-preprocessor-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: staging) }
        let preprocessorFile = staging.appendingPathComponent(ImageProcessorSettings.fileName)
        try Data(settings.huggingFaceJSON().utf8).write(to: preprocessorFile)
        try CheckpointDirectory.write(to: path, config: config, store: store, dtype: dtype,
                                      copying: tokenizerFiles + [preprocessorFile.path],
                                      replaceExisting: replaceExisting)
    }
}
