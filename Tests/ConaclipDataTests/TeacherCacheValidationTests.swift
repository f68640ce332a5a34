import Foundation
import Testing
@testable import ConaclipData

/// A cache file built from the fixture teacher over 20 records, in a fresh directory.
private struct BuiltCache {
    let dir: URL
    let path: String
    let teacher: TeacherEmbedder
    let dataset: TeacherCacheFixture.Dataset
    let key: TeacherCacheKey
    static let digest = "dataset-digest-1"

    init() throws {
        dir = try TeacherCacheFixture.temporaryDirectory()
        path = dir.appendingPathComponent("teacher.cache").path
        teacher = try TeacherEmbedder(directory: TeacherCacheFixture.model)
        dataset = TeacherCacheFixture.dataset(count: 20)
        try TeacherCacheBuilder.write(teacher: teacher, dataset: dataset, datasetDigest: Self.digest, to: path,
                                      source: TeacherCacheFixture.source(split: "train"))
        key = TeacherCacheKey(teacher: teacher, dataset: dataset, datasetDigest: Self.digest)
    }

    func remove() { try? FileManager.default.removeItem(at: dir) }

    /// A copy of the fixture model with `edit` applied to the copy's directory.
    func editedModel(_ name: String, _ edit: (URL) throws -> Void) throws -> TeacherEmbedder {
        let copy = dir.appendingPathComponent(name)
        try TeacherCacheFixture.copyModel(to: copy)
        try edit(copy)
        return try TeacherEmbedder(directory: copy.path)
    }

    /// The error opening the cache with `expected` (and `policy`) raises, or nil if it opens.
    func openError(expecting expected: TeacherCacheKey? = nil, policy: TeacherCachePolicy = .init()) -> TeacherCacheError? {
        do {
            _ = try TeacherEmbeddingCache.open(path: path, expecting: expected ?? key, policy: policy)
            return nil
        } catch {
            return error
        }
    }

    /// Rewrites bytes of the cache file in place.
    func corrupt(_ edit: (inout [UInt8]) -> Void) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        edit(&bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}

/// The differing fields of a `.stale` error, or nil for any other outcome.
private func staleFields(_ error: TeacherCacheError?) -> [String]? {
    guard case let .stale(_, mismatches, _)? = error else { return nil }
    return mismatches.map(\.field)
}

/// The reason of a `.corrupt` error, or nil for any other outcome.
private func corruptReason(_ error: TeacherCacheError?) -> String? {
    guard case let .corrupt(_, reason, _)? = error else { return nil }
    return reason
}

@Suite("Teacher embedding cache: stale and corrupt files are refused")
struct TeacherCacheValidationTests {
    @Test("another teacher (one weight changed) is refused, naming the teacher digest and the rebuild command")
    func staleTeacher() throws {
        let built = try BuiltCache()
        defer { built.remove() }
        let other = try built.editedModel("changed-weight") { dir in
            let checkpoint = CheckpointDirectory(path: dir.path)
            let model = try CLIPModel(config: try checkpoint.readConfig())
            try checkpoint.loadWeights(into: model.parameters)
            model.parameters.values.pointer[0] += 0.5
            try SafeTensors.save(model.parameters, to: dir.appendingPathComponent("model.safetensors").path)
        }
        #expect(other.weightsDigest != built.teacher.weightsDigest)
        let error = built.openError(expecting: TeacherCacheKey(teacher: other, dataset: built.dataset,
                                                               datasetDigest: BuiltCache.digest))
        #expect(staleFields(error) == ["teacher_digest"])
        let message = error?.description ?? ""
        #expect(message.contains("teacher weights differ"))
        #expect(message.contains(other.weightsDigest) && message.contains(built.teacher.weightsDigest))
        #expect(message.contains("conaclip cache build --teacher \(TeacherCacheFixture.model) --data inline.jsonl --split train --out \(built.path)"))
    }

    @Test("a teacher whose tower config changed but weights did not is refused on the config digest")
    func staleTeacherConfig() throws {
        let built = try BuiltCache()
        defer { built.remove() }
        let other = try built.editedModel("gelu") { dir in
            let config = dir.appendingPathComponent("config.json")
            let text = try String(contentsOf: config, encoding: .utf8)
            try text.replacingOccurrences(of: "\"quick_gelu\"", with: "\"gelu\"").write(to: config, atomically: true, encoding: .utf8)
        }
        #expect(other.weightsDigest == built.teacher.weightsDigest)
        let error = built.openError(expecting: TeacherCacheKey(teacher: other, dataset: built.dataset,
                                                               datasetDigest: BuiltCache.digest))
        #expect(staleFields(error) == ["teacher_config_digest"])
    }

    @Test("another dataset digest, other record ids, or another record count are refused")
    func staleDataset() throws {
        let built = try BuiltCache()
        defer { built.remove() }
        var expected = built.key
        expected.datasetDigest = "dataset-digest-2"
        let error = built.openError(expecting: expected)
        #expect(staleFields(error) == ["dataset_digest"])
        #expect(error?.description.contains("dataset differs") == true)

        let renamed = TeacherCacheFixture.dataset(count: 20, prefix: "other-")
        #expect(staleFields(built.openError(expecting: TeacherCacheKey(
            teacher: built.teacher, dataset: renamed, datasetDigest: BuiltCache.digest))) == ["record_ids_digest"])

        let shorter = TeacherCacheFixture.dataset(count: 19)
        #expect(staleFields(built.openError(expecting: TeacherCacheKey(
            teacher: built.teacher, dataset: shorter, datasetDigest: BuiltCache.digest))) == ["record_count", "record_ids_digest"])
    }

    @Test("changed image preprocessing or context length is refused, naming the field")
    func stalePreprocessing() throws {
        let built = try BuiltCache()
        defer { built.remove() }
        let other = try built.editedModel("other-mean") { dir in
            let file = dir.appendingPathComponent("preprocessor_config.json")
            var object = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any] ?? [:]
            object["image_mean"] = [0.5, 0.5, 0.5]
            try JSONSerialization.data(withJSONObject: object).write(to: file)
        }
        let error = built.openError(expecting: TeacherCacheKey(teacher: other, dataset: built.dataset,
                                                               datasetDigest: BuiltCache.digest))
        #expect(staleFields(error) == ["preprocessing.mean"])
        #expect(error?.description.contains("preprocessing differs (preprocessing.mean)") == true)

        var expected = built.key
        expected.preprocessing.contextLength = 77
        expected.preprocessing.tokenizerDigest = String(repeating: "a", count: 64)
        #expect(staleFields(built.openError(expecting: expected))
                == ["preprocessing.context_length", "preprocessing.tokenizer_digest"])
    }

    @Test("a truncated file is refused as truncated, whether cut in the payload or in the header")
    func truncated() throws {
        let built = try BuiltCache()
        defer { built.remove() }
        let size = try Data(contentsOf: URL(fileURLWithPath: built.path)).count
        try built.corrupt { $0.removeLast(4) }
        #expect(corruptReason(built.openError())?.contains("it is truncated") == true)
        #expect(built.openError()?.description.contains("delete it and rebuild with: conaclip cache build") == true)
        try built.corrupt { $0.removeLast(size - 100) }
        #expect(corruptReason(built.openError())?.contains("truncated") == true)
        try built.corrupt { $0.removeLast(60) }
        #expect(corruptReason(built.openError())?.contains("shorter than the 56-byte file prefix") == true)
    }

    @Test("one flipped payload bit is refused by the checksum; skipping verification is explicit")
    func flippedPayloadByte() throws {
        let built = try BuiltCache()
        defer { built.remove() }
        let good = try TeacherEmbeddingCache.open(path: built.path, expecting: built.key)
        let original = Array(good.textEmbedding(19))
        try built.corrupt { $0[$0.count - 3] ^= 0x10 }
        let reason = corruptReason(built.openError())
        #expect(reason?.contains("the payload does not match its SHA-256") == true)
        // Without the payload check the file opens (header, sizes and key still checked) and shows the damage.
        let unchecked = try TeacherEmbeddingCache.open(path: built.path, expecting: built.key,
                                                       policy: TeacherCachePolicy(verifyPayload: false))
        #expect(Array(unchecked.textEmbedding(19)) != original)
        var other = built.key
        other.datasetDigest = "x"
        #expect(staleFields(built.openError(expecting: other, policy: TeacherCachePolicy(verifyPayload: false))) == ["dataset_digest"])
    }

    @Test("a flipped header byte, wrong magic, unknown version or flags are refused")
    func damagedHeader() throws {
        let built = try BuiltCache()
        defer { built.remove() }
        let pristine = try Data(contentsOf: URL(fileURLWithPath: built.path))
        try built.corrupt { $0[80] ^= 0x01 }
        #expect(corruptReason(built.openError())?.contains("the header does not match its SHA-256") == true)

        try pristine.write(to: URL(fileURLWithPath: built.path))
        try built.corrupt { $0[1] = UInt8(ascii: "X") }
        #expect(corruptReason(built.openError())?.contains("not a conaclip teacher cache") == true)

        try pristine.write(to: URL(fileURLWithPath: built.path))
        try built.corrupt { $0[8] = 2 }
        guard case let .unsupportedVersion(_, found, supported, _)? = built.openError() else {
            Issue.record("expected an unsupported version")
            return
        }
        #expect(found == 2 && supported == 1)

        try pristine.write(to: URL(fileURLWithPath: built.path))
        try built.corrupt { $0[12] = 1 }
        #expect(corruptReason(built.openError())?.contains("unknown flags") == true)
    }

    @Test("a missing file is refused with the caller's rebuild command; a part file is not a whole cache")
    func missingAndPartFiles() throws {
        let built = try BuiltCache()
        defer { built.remove() }
        let missing = built.dir.appendingPathComponent("none.cache").path
        do {
            _ = try TeacherEmbeddingCache.open(path: missing, expecting: built.key, rebuildCommand: "conaclip cache build X")
            Issue.record("a missing cache opened")
        } catch {
            #expect(error == .missing(path: missing, rebuild: "conaclip cache build X"))
        }
        let part = built.dir.appendingPathComponent("part.cache").path
        try TeacherCacheBuilder.write(teacher: built.teacher, dataset: built.dataset, datasetDigest: BuiltCache.digest,
                                      records: 0..<16, to: part, source: TeacherCacheFixture.source())
        do {
            _ = try TeacherEmbeddingCache.open(path: part, expecting: built.key)
            Issue.record("a part file opened as a cache")
        } catch {
            #expect(corruptReason(error)?.contains("part file holding records 0..<16 of 20") == true)
        }
    }

    @Test("policy rebuild replaces a stale or missing cache and uses it; refuse never calls the builder")
    func rebuildPolicy() throws {
        let built = try BuiltCache()
        defer { built.remove() }
        var expected = built.key
        expected.datasetDigest = "dataset-digest-2"
        var calls = 0
        let rebuild = { () throws(TeacherCacheError) in
            calls += 1
            try TeacherCacheBuilder.write(teacher: built.teacher, dataset: built.dataset, datasetDigest: "dataset-digest-2",
                                          to: built.path, source: TeacherCacheFixture.source())
        }
        #expect(throws: TeacherCacheError.self) {
            try TeacherEmbeddingCache.open(path: built.path, expecting: expected, rebuild: rebuild)
        }
        #expect(calls == 0)
        let cache = try TeacherEmbeddingCache.open(path: built.path, expecting: expected,
                                                   policy: TeacherCachePolicy(onStale: .rebuild), rebuild: rebuild)
        #expect(calls == 1)
        #expect(cache.key == expected && cache.count == 20)
        // Valid now: opening again does not rebuild.
        _ = try TeacherEmbeddingCache.open(path: built.path, expecting: expected,
                                           policy: TeacherCachePolicy(onStale: .rebuild), rebuild: rebuild)
        #expect(calls == 1)

        // Missing file: rebuilt too.
        try FileManager.default.removeItem(atPath: built.path)
        _ = try TeacherEmbeddingCache.open(path: built.path, expecting: expected,
                                           policy: TeacherCachePolicy(onStale: .rebuild), rebuild: rebuild)
        #expect(calls == 2)

        // A rebuild that still does not give the expected key is an error, never a silent use.
        var unreachable = expected
        unreachable.datasetDigest = "dataset-digest-3"
        do {
            _ = try TeacherEmbeddingCache.open(path: built.path, expecting: unreachable,
                                               policy: TeacherCachePolicy(onStale: .rebuild), rebuild: rebuild)
            Issue.record("a cache that is still stale after rebuilding was used")
        } catch {
            #expect(staleFields(error) == ["dataset_digest"])
        }
        // Rebuild requested without a builder.
        do {
            _ = try TeacherEmbeddingCache.open(path: built.path, expecting: unreachable,
                                               policy: TeacherCachePolicy(onStale: .rebuild))
            Issue.record("a stale cache was used")
        } catch {
            guard case .rebuildUnavailable = error else {
                Issue.record("expected rebuildUnavailable, got \(error)")
                return
            }
        }
    }

    @Test("the teacher_cache config section decodes with refuse and payload verification as defaults")
    func configSection() throws {
        let full = try JSONDecoder().decode(TeacherCacheConfig.self, from: Data(
            #"{"path": "runs/t.cache", "on_stale": "rebuild", "verify_payload": false}"#.utf8))
        #expect(full == TeacherCacheConfig(path: "runs/t.cache", onStale: .rebuild, verifyPayload: false))
        #expect(full.policy == TeacherCachePolicy(onStale: .rebuild, verifyPayload: false))
        let minimal = try JSONDecoder().decode(TeacherCacheConfig.self, from: Data(#"{"path": "t.cache"}"#.utf8))
        #expect(minimal.policy == TeacherCachePolicy(onStale: .refuse, verifyPayload: true))
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(TeacherCacheConfig.self, from: Data(#"{"path": "t", "on_stale": "ignore"}"#.utf8))
        }
    }
}
