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

    @OptionGroup var output: ModelDirectoryWriter.Options

    @Option(help: "Seed of the initial weights.")
    var seed: UInt64 = 0

    func run() throws {
        let weightType = try output.weightType()
        var preset = try ModelPreset.load(path: config)
        let vocabulary = try CLIPTokenizer(directory: URL(fileURLWithPath: tokenizer))
        preset.textConfig.vocabSize = vocabulary.vocabularySize
        preset.textConfig.bosTokenId = Int(vocabulary.bosTokenId)
        preset.textConfig.eosTokenId = Int(vocabulary.eosTokenId)
        preset.textConfig.padTokenId = Int(vocabulary.padTokenId)
        try preset.validate(source: config)
        let clip = try CLIPModel(config: preset)
        clip.initialize(seed: seed)
        try ModelDirectoryWriter.write(to: output.out, config: preset, store: clip.parameters, dtype: weightType,
                                       tokenizerFiles: CheckpointDirectory(path: tokenizer).tokenizerFiles,
                                       replaceExisting: output.force)
        print("wrote \(output.out): \(clip.parameters.count) parameters, vocabulary \(vocabulary.vocabularySize)")
    }
}

/// `conaclip model convert`: re-write a model directory (e.g. in another precision).
struct ModelConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Re-write a model directory in conaclip's layout, optionally in another precision.")

    @Option(help: "Input model directory (Hugging Face CLIP layout).")
    var model: String

    @OptionGroup var output: ModelDirectoryWriter.Options

    func run() throws {
        let weightType = try output.weightType()
        try ModelDirectoryWriter.Source(path: model).write(output, weightType: weightType)
        print("wrote \(output.out) (\(output.dtype))")
    }
}
