import ArgumentParser
import ConaclipCluster
import Foundation

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

    /// The options of every command that writes a model directory:
    /// `--out`, `--dtype` and `--force`.
    struct Options: ParsableArguments {
        @Option(help: "Output model directory.")
        var out: String

        @Option(help: "Weight precision on disk: f32, f16 or bf16.")
        var dtype = "f32"

        @Flag(help: "Replace an existing output directory.")
        var force = false

        /// `--dtype` parsed; a spelling `WeightDType(argument:)` does not know is a usage error.
        func weightType() throws -> WeightDType {
            guard let weightType = WeightDType(argument: dtype) else {
                throw ValidationError("--dtype must be f32, f16 or bf16, got \(dtype)")
            }
            return weightType
        }
    }

    /// A model directory loaded to be written out again (`model convert`,
    /// `export`): its config and its weights in a `CLIPModel`.
    struct Source {
        let checkpoint: CheckpointDirectory
        let config: CLIPConfig
        let model: CLIPModel

        /// Reads `config.json` and the weights of the model directory `path`.
        init(path: String) throws {
            checkpoint = CheckpointDirectory(path: path)
            config = try checkpoint.readConfig()
            model = try CLIPModel(config: config)
            try checkpoint.loadWeights(into: model.parameters)
        }

        /// Writes the model as the directory `options.out` in `weightType`,
        /// with the source's tokenizer files plus `extraTokenizerFiles` and
        /// the source's image preprocessing (defaults when it has none).
        func write(_ options: Options, weightType: WeightDType, extraTokenizerFiles: [String] = []) throws {
            let settings = try ImageProcessorSettings(directory: checkpoint.path, imageSize: config.visionConfig.imageSize)
            try ModelDirectoryWriter.write(to: options.out, config: config, store: model.parameters, dtype: weightType,
                                           tokenizerFiles: checkpoint.tokenizerFiles + extraTokenizerFiles,
                                           imageSettings: settings, replaceExisting: options.force)
        }
    }
}
