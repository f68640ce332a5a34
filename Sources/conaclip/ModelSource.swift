import ConaclipCluster
import Foundation

/// Resolves a `--model` argument: a YAML preset file, or a model directory
/// holding a Hugging Face `config.json`.
enum ModelSource {
    static func config(from path: String) throws -> CLIPConfig {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return try CheckpointDirectory(path: path).readConfig()
        }
        return try ModelPreset.load(path: path)
    }
}
