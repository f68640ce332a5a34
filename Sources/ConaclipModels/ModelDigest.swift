import Crypto
import Foundation

/// The identity of a model's weights: a SHA-256 that depends on the parameter
/// values, names and shapes only. Runs are compared for bit-identity with it
/// (`conaclip checkpoint digest`), and the teacher-embedding cache is keyed by
/// the teacher's digest.
///
/// Scheme `conaclip-model-digest-v1`: SHA-256 over the concatenation of
/// 1. the ASCII bytes `conaclip-model-digest-v1` and one line feed (0x0A);
/// 2. the number of tensors, UInt64 little-endian;
/// 3. for each tensor, in ascending byte order of the UTF-8 names (the order
///    safetensors files use): the name's byte length (UInt64 LE), the name's
///    UTF-8 bytes, the rank (UInt64 LE), each dimension (UInt64 LE), then the
///    values as IEEE-754 float32 little-endian (the raw bit patterns, so
///    -0.0 and 0.0 differ and NaN payloads count).
///
/// The result is written as 64 lower-case hex digits. Because tensors are
/// taken by name, neither the order parameters are laid out in memory (for
/// example where `logit_scale` sits) nor the file layout, shard split, stored
/// dtype or metadata of a checkpoint matter: a directory stored in F16 and
/// the same values stored in F32 have one digest. The same computation in
/// Python, for checking by hand:
///
/// ```python
/// h = hashlib.sha256(b"conaclip-model-digest-v1\n" + struct.pack("<Q", len(t)))
/// for name in sorted(t, key=lambda n: n.encode()):
///     a = t[name].astype("<f4"); b = name.encode()
///     h.update(struct.pack("<Q", len(b)) + b + struct.pack("<Q", a.ndim))
///     h.update(struct.pack(f"<{a.ndim}Q", *a.shape) + a.tobytes())
/// ```
public enum ModelDigest {
    /// The scheme tag hashed first; a new scheme gets a new tag.
    public static let scheme = "conaclip-model-digest-v1"

    /// The digest of every parameter of `store`.
    public static func sha256(of store: ParameterStore) -> String {
        var hasher = SHA256()
        hasher.update(data: Array((scheme + "\n").utf8))
        appendInteger(store.specs.count, to: &hasher)
        let ordered = store.specs.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        for spec in ordered {
            let name = Array(spec.name.utf8)
            appendInteger(name.count, to: &hasher)
            hasher.update(data: name)
            appendInteger(spec.shape.count, to: &hasher)
            for dimension in spec.shape { appendInteger(dimension, to: &hasher) }
            appendFloats(store.values.pointer + spec.offset, count: spec.count, to: &hasher)
        }
        return hex(hasher.finalize())
    }

    /// The digest of the weights in a model directory (`config.json` plus
    /// safetensors weights, any stored dtype), loaded as a `CLIPModel`.
    public static func sha256(ofModelDirectory path: String) throws(ModelDigestError) -> String {
        let checkpoint = CheckpointDirectory(path: path)
        let config: CLIPConfig
        do { config = try checkpoint.readConfig() } catch { throw .checkpoint(error) }
        let model: CLIPModel
        do { model = try CLIPModel(config: config) } catch { throw .model(path: path, error) }
        do { try checkpoint.loadWeights(into: model.parameters) } catch { throw .checkpoint(error) }
        return sha256(of: model.parameters)
    }

    /// The model directory that `path` stands for:
    /// - `path` itself when it holds `config.json` (a model or checkpoint directory);
    /// - else `path/final` when that directory exists (a finished run);
    /// - else the `path/checkpoints/step-N` directory with the largest N
    ///   (N decimal digits; hidden and other entries are ignored; the choice
    ///   is by N, never by modification time).
    ///
    /// Anything else is `.notACheckpoint`. The chosen directory is not checked
    /// further here: reading it reports what is wrong with it.
    public static func resolveModelDirectory(_ path: String) throws(ModelDigestError) -> String {
        let fileManager = FileManager.default
        func isDirectory(_ candidate: String) -> Bool {
            var flag: ObjCBool = false
            return fileManager.fileExists(atPath: candidate, isDirectory: &flag) && flag.boolValue
        }
        func join(_ a: String, _ b: String) -> String { (a as NSString).appendingPathComponent(b) }

        guard isDirectory(path) else { throw .notACheckpoint(path: path, reason: "it is not a directory") }
        if fileManager.fileExists(atPath: join(path, CheckpointDirectory.configFileName)) { return path }
        let final = join(path, finalDirectoryName)
        if isDirectory(final) { return final }
        let checkpoints = join(path, checkpointsDirectoryName)
        guard isDirectory(checkpoints) else {
            throw .notACheckpoint(path: path, reason: "it has no config.json, no \(finalDirectoryName)/ and no \(checkpointsDirectoryName)/")
        }
        let entries = (try? fileManager.contentsOfDirectory(atPath: checkpoints)) ?? []
        var best: (step: UInt64, name: String)?
        for name in entries {
            guard let step = stepNumber(name), isDirectory(join(checkpoints, name)) else { continue }
            if let current = best, current.step >= step { continue }
            best = (step, name)
        }
        guard let best else {
            throw .notACheckpoint(path: path, reason: "\(checkpoints) holds no \(stepPrefix)N directory")
        }
        return join(checkpoints, best.name)
    }

    /// A run directory's finished model: `RUN/final`.
    public static let finalDirectoryName = "final"
    /// A run directory's periodic checkpoints: `RUN/checkpoints/step-N`.
    public static let checkpointsDirectoryName = "checkpoints"
    /// The prefix of a periodic checkpoint's directory name.
    public static let stepPrefix = "step-"

    /// N for a name `step-N` (N one or more decimal digits), else nil.
    static func stepNumber(_ name: String) -> UInt64? {
        guard name.hasPrefix(stepPrefix) else { return nil }
        let digits = name.dropFirst(stepPrefix.count)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(digits)
    }

    /// Lower-case hex of a digest.
    public static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func appendInteger(_ value: Int, to hasher: inout SHA256) {
        withUnsafeBytes(of: UInt64(value).littleEndian) { hasher.update(bufferPointer: $0) }
    }

    /// Feeds float32 values little-endian, in bounded pieces on big-endian hosts.
    private static func appendFloats(_ pointer: UnsafePointer<Float>, count: Int, to hasher: inout SHA256) {
        #if _endian(little)
        hasher.update(bufferPointer: UnsafeRawBufferPointer(start: pointer, count: count * MemoryLayout<Float>.size))
        #else
        var piece = [UInt32](repeating: 0, count: 4096)
        var done = 0
        while done < count {
            let n = min(piece.count, count - done)
            for i in 0..<n { piece[i] = pointer[done + i].bitPattern.littleEndian }
            piece.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<(n * 4)])) }
            done += n
        }
        #endif
    }
}

/// Why a model digest could not be computed.
public enum ModelDigestError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The path is neither a model directory nor a run directory.
    case notACheckpoint(path: String, reason: String)
    case checkpoint(CheckpointError)
    case model(path: String, ModelError)

    public var description: String {
        switch self {
        case let .notACheckpoint(path, reason):
            return "\(path) is not a model directory (config.json + model.safetensors) or a run directory "
                + "(final/ or checkpoints/step-N/): \(reason)"
        case let .checkpoint(error):
            return error.description
        case let .model(path, error):
            return "\(path): \(error)"
        }
    }
}
