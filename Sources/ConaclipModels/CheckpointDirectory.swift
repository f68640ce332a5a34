import Foundation

/// A model directory in Hugging Face layout: `config.json`,
/// `model.safetensors` (or shards listed in `model.safetensors.index.json`)
/// and, when present, the tokenizer files. Directories this type writes load
/// with `transformers.CLIPModel.from_pretrained`, and directories transformers
/// writes load here.
///
/// Writing is atomic: everything goes into a hidden sibling directory whose
/// files and entries are fsynced before it is renamed to the final name, so
/// the final name never holds a half-written checkpoint.
public struct CheckpointDirectory: Sendable {
    public static let configFileName = "config.json"
    public static let weightsFileName = "model.safetensors"
    public static let shardIndexFileName = "model.safetensors.index.json"
    /// Tokenizer files `tokenizerFiles` reports when present.
    public static let tokenizerFileNames = [
        "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json",
    ]
    /// PyTorch pickle weight files, which this project refuses to unpickle.
    static let pickleWeightNames = ["pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "model.bin"]

    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// `path/name`.
    public func file(_ name: String) -> String { FileSystem.join(path, name) }

    /// Reads and validates `config.json`.
    public func readConfig() throws(CheckpointError) -> CLIPConfig {
        try requireDirectory()
        let configPath = file(Self.configFileName)
        guard FileSystem.exists(configPath) else { throw .missingFile(directory: path, name: Self.configFileName) }
        do { return try CLIPConfig(huggingFaceConfigAt: configPath) } catch { throw .config(error) }
    }

    /// Opens the weight file(s): `model.safetensors`, or every shard named in
    /// `model.safetensors.index.json`.
    public func openWeights() throws(CheckpointError) -> [SafeTensorsFile] {
        try requireDirectory()
        let single = file(Self.weightsFileName)
        if FileSystem.exists(single) {
            do { return [try SafeTensorsFile(path: single)] } catch { throw .weights(error) }
        }
        let index = file(Self.shardIndexFileName)
        if FileSystem.exists(index) {
            var files: [SafeTensorsFile] = []
            for shard in try shardNames(index: index) {
                do { files.append(try SafeTensorsFile(path: file(shard))) } catch { throw .weights(error) }
            }
            return files
        }
        if let pickle = Self.pickleWeightNames.first(where: { FileSystem.exists(file($0)) }) {
            throw .safetensorsRequired(directory: path, found: pickle)
        }
        throw .missingFile(directory: path, name: Self.weightsFileName)
    }

    /// Loads every parameter of `store` from the weights; see `SafeTensors.load(into:from:)`.
    public func loadWeights(into store: ParameterStore) throws(CheckpointError) {
        let files = try openWeights()
        do { try SafeTensors.load(into: store, from: files) } catch { throw .weights(error) }
    }

    /// Paths of the standard tokenizer files present in the directory.
    public var tokenizerFiles: [String] {
        Self.tokenizerFileNames.map(file).filter(FileSystem.isRegularFile)
    }

    /// Writes `config.json`, `model.safetensors` (every parameter of `store`
    /// in `dtype`, with `format: pt` plus `metadata`) and copies of `files`
    /// (tokenizer files and the like, stored under their own names) as the
    /// directory `path`, atomically. An existing directory at `path` is an
    /// error unless `replaceExisting`, in which case it is replaced as a whole.
    @discardableResult
    public static func write(
        to path: String, config: CLIPConfig, store: ParameterStore, dtype: WeightDType = .float32,
        copying files: [String] = [], metadata: [String: String] = [:], replaceExisting: Bool = false,
        beforeInstall: () -> Void = {}
    ) throws(CheckpointError) -> CheckpointDirectory {
        do { try config.validate(source: FileSystem.join(path, configFileName)) } catch { throw .config(error) }
        var names: Set<String> = [configFileName, weightsFileName]
        for source in files {
            let name = FileSystem.name(of: source)
            guard names.insert(name).inserted else { throw .duplicateFileName(name) }
            guard FileSystem.isRegularFile(source) else {
                throw .io(FileIOError(path: source, operation: "copy (not a readable regular file)", code: ENOENT))
            }
        }
        if FileSystem.exists(path) && !replaceExisting { throw .alreadyExists(path) }

        let staging = FileSystem.stagingSibling(of: path, tag: "tmp")
        do {
            try FileSystem.makeDirectory(staging)
        } catch {
            throw .io(error)
        }
        do throws(CheckpointError) {
            do {
                var configFile = try OutputFile(creating: FileSystem.join(staging, configFileName))
                try configFile.write(Array(config.huggingFaceJSON(dtype: dtype).utf8))
                try configFile.finish()
            } catch { throw .io(error) }

            let weightsPath = FileSystem.join(staging, weightsFileName)
            var allMetadata = SafeTensors.huggingFaceMetadata
            allMetadata.merge(metadata) { _, new in new }
            let writer = SafeTensors.writer(for: store, dtype: dtype, metadata: allMetadata)
            do { try writer.write(to: weightsPath) } catch { throw .weights(error) }

            do {
                for source in files {
                    try FileSystem.copyFile(source, to: FileSystem.join(staging, FileSystem.name(of: source)))
                }
                try FileSystem.syncDirectory(staging)
            } catch { throw .io(error) }

            beforeInstall()
            try install(staging, at: path, replaceExisting: replaceExisting)
        } catch {
            FileSystem.removeTree(staging)
            throw error
        }
        return CheckpointDirectory(path: path)
    }

    /// Renames the finished staging directory to `path`, moving an old
    /// directory aside first (and deleting it afterwards) when replacing.
    private static func install(_ staging: String, at path: String, replaceExisting: Bool) throws(CheckpointError) {
        var displaced: String?
        if FileSystem.exists(path) {
            guard replaceExisting else { throw .alreadyExists(path) }
            let aside = FileSystem.stagingSibling(of: path, tag: "old")
            do { try FileSystem.rename(path, to: aside) } catch { throw .io(error) }
            displaced = aside
        }
        do {
            try FileSystem.rename(staging, to: path)
        } catch {
            if let displaced { try? FileSystem.rename(displaced, to: path) }
            throw .io(error)
        }
        if let displaced { FileSystem.removeTree(displaced) }
        do { try FileSystem.syncDirectory(FileSystem.parent(of: path)) } catch { throw .io(error) }
    }

    private func requireDirectory() throws(CheckpointError) {
        guard FileSystem.isDirectory(path) else { throw .notADirectory(path) }
    }

    /// Shard file names from an index, refusing names that leave the directory.
    private func shardNames(index: String) throws(CheckpointError) -> [String] {
        let bytes: FileBytes
        do { bytes = try FileBytes(path: index) } catch { throw .io(error) }
        guard case let .success(root) = StructuredValue.parseJSON(Data(bytes.bytes)),
              let weightMap = root.object?["weight_map"]?.object else {
            throw .invalidShardIndex(path: index, reason: "it must be a JSON object with a \"weight_map\" mapping")
        }
        var names: Set<String> = []
        for (tensor, value) in weightMap {
            guard case let .string(name) = value else {
                throw .invalidShardIndex(path: index, reason: "the shard of \(tensor) is not a file name")
            }
            guard !name.isEmpty, !name.contains("/"), name != ".", name != "..", !name.hasPrefix(".") else {
                throw .invalidShardIndex(path: index, reason: "shard name \"\(name)\" for \(tensor) must be a plain file name in the directory")
            }
            names.insert(name)
        }
        guard !names.isEmpty else { throw .invalidShardIndex(path: index, reason: "\"weight_map\" is empty") }
        return names.sorted()
    }
}

/// Why a checkpoint directory could not be read or written.
public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    case notADirectory(String)
    case missingFile(directory: String, name: String)
    /// Only PyTorch pickle weights were found.
    case safetensorsRequired(directory: String, found: String)
    case invalidShardIndex(path: String, reason: String)
    case config(ModelConfigError)
    case weights(SafeTensorsError)
    case io(FileIOError)
    /// The target exists and replacing it was not requested.
    case alreadyExists(String)
    /// Two files to copy (or a copy and a checkpoint file) share a name.
    case duplicateFileName(String)

    public var description: String {
        switch self {
        case let .notADirectory(path):
            return "\(path) is not a directory (expected a model directory with config.json and model.safetensors)"
        case let .missingFile(directory, name):
            return "\(directory) has no \(name); a model directory needs config.json and model.safetensors"
        case let .safetensorsRequired(directory, found):
            return "\(directory) holds PyTorch pickle weights (\(found)) but safetensors is required; convert once with "
                + "python -c \"from transformers import CLIPModel; CLIPModel.from_pretrained('\(directory)').save_pretrained('OUT_DIR', safe_serialization=True)\""
        case let .invalidShardIndex(path, reason):
            return "\(path): invalid shard index: \(reason)"
        case let .config(error):
            return error.description
        case let .weights(error):
            return error.description
        case let .io(error):
            return error.description
        case let .alreadyExists(path):
            return "\(path) already exists; choose another directory or ask to replace it"
        case let .duplicateFileName(name):
            return "two files would be stored as \(name) in the checkpoint directory"
        }
    }
}
