import ArgumentParser
import ConaclipCluster
import Foundation

/// `conaclip checkpoint`: facts about model and run checkpoints.
struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Inspect model and run checkpoints.",
        subcommands: [CheckpointDigestCommand.self])
}

/// `conaclip checkpoint digest`: the weight digest runs are compared by.
struct CheckpointDigestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest",
        abstract: "Print the SHA-256 digest of a checkpoint's weights (for comparing runs bit for bit).",
        discussion: """
        PATH is a model or checkpoint directory (config.json + model.safetensors), or a run \
        output directory, which means its final checkpoint: PATH/final if it exists, else the \
        PATH/checkpoints/step-N directory with the largest N. The digest covers every \
        parameter's name, shape and float32 value in name order (scheme \(ModelDigest.scheme)), \
        so it does not depend on the dtype stored on disk, the file layout, metadata or the \
        order of parameters in memory. The teacher cache keys teachers by the same digest.
        """)

    @Argument(help: "Model directory or run output directory.")
    var path: String

    @Flag(help: "Also print the directory that was digested, as `DIGEST  DIRECTORY`.")
    var showDirectory = false

    func run() throws {
        let directory = try ModelDigest.resolveModelDirectory(path)
        let digest = try ModelDigest.sha256(ofModelDirectory: directory)
        print(showDirectory ? "\(digest)  \(directory)" : digest)
    }
}
