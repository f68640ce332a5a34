import Crypto
import Foundation

/// What the coordinator tells a worker about the run in its welcome (the
/// `configuration` bytes, JSON): the config itself, so a worker needs no
/// config file, and the digests that must agree.
public struct RunAnnouncement: Codable, Sendable, Equatable {
    /// The training config's YAML text.
    public var configYAML: String
    /// The path the coordinator read it from (for messages; relative paths inside resolve against the worker's directory).
    public var configSource: String
    /// SHA-256 of the config's canonical text (`RunAnnouncement.canonicalDigest`).
    public var canonicalDigest: String
    /// The run's identity once resolved (`RunComponents.configDigest`): the
    /// worker checks that the files it read (presets, tokenizer, teacher) resolve to the same.
    public var runDigest: String
    public var parameterCount: Int
    public var totalSteps: Int

    enum CodingKeys: String, CodingKey {
        case configYAML = "config_yaml", configSource = "config_source", canonicalDigest = "canonical_digest"
        case runDigest = "run_digest", parameterCount = "parameter_count", totalSteps = "total_steps"
    }

    public init(configYAML: String, configSource: String, canonicalDigest: String, runDigest: String,
                parameterCount: Int, totalSteps: Int) {
        self.configYAML = configYAML; self.configSource = configSource; self.canonicalDigest = canonicalDigest
        self.runDigest = runDigest; self.parameterCount = parameterCount; self.totalSteps = totalSteps
    }

    /// SHA-256 of `config.canonicalText`: equal for configs that train the same weights.
    public static func canonicalDigest(_ config: TrainingConfig) -> String {
        SHA256.hash(data: Data(config.canonicalText.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(self))) ?? []
    }

    public static func decode(_ bytes: [UInt8]) throws(ClusterError) -> RunAnnouncement {
        do { return try JSONDecoder().decode(RunAnnouncement.self, from: Data(bytes)) } catch {
            throw .protocolError(.malformed("welcome: the run description is not valid JSON (\(error))"))
        }
    }
}
