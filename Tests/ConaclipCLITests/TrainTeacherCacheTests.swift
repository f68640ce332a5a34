import Foundation
import Testing

/// `conaclip train` with `teacher_cache:` on the tiny Hugging Face fixture
/// teacher and a JSONL manifest over its images: a missing, stale or
/// corrupt cache is refused (or rebuilt under on_stale: rebuild), and a
/// valid one gives the losses of running the teacher every step, up to the
/// last bits of the teacher's forward passes.
@Suite("conaclip train with a teacher cache")
struct TrainTeacherCacheTests {
    static let teacher = CacheCommandTests.model

    /// A student like tiny.yaml but projecting to the fixture teacher's 24 dimensions.
    static func writeStudentPreset(in dir: URL) throws {
        let tiny = try String(contentsOf: CLIRunner.repositoryRoot.appendingPathComponent("configs/models/tiny.yaml"), encoding: .utf8)
        let student = tiny.replacingOccurrences(of: "projection_dim: 32", with: "projection_dim: 24")
        #expect(student != tiny)
        try student.write(to: dir.appendingPathComponent("student.yaml"), atomically: true, encoding: .utf8)
    }

    static func writeConfig(in dir: URL, name: String, cache: String?) throws -> String {
        var yaml = """
            model: student.yaml
            teacher: \(teacher)
            data: {manifest: pairs.jsonl, split: train}
            batch_size: 8
            micro_shards: 2
            steps: 3
            loss: {terms: [intra-ts:infonce:0.07, intra-ts:fd:1, inter-ts:sym-kl:0.07, intra-ss:sd:1]}
            checkpoint: {every_steps: 0}
            log: {every_steps: 1}

            """
        if let cache { yaml += "teacher_cache: \(cache)\n" }
        try yaml.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        return name
    }

    static func train(_ config: String, out: String, in dir: URL) throws -> CLIRunner.Run {
        try CLIRunner.run(["train", "--config", config, "--out", out, "--progress", "none"], in: dir, timeout: 120)
    }

    /// Each logged step's total and term values.
    static func metrics(_ run: String, in dir: URL) throws -> [[String: Double]] {
        let text = try String(contentsOf: dir.appendingPathComponent("\(run)/metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            var values = try #require(object["terms"] as? [String: Double])
            values["total"] = try #require(object["total"] as? Double)
            return values
        }
    }

    @Test("a valid cache replaces the teacher's forward passes and gives the same losses")
    func cacheGivesTheTeacherLosses() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = try CacheCommandTests.writeManifest(in: dir)
        try Self.writeStudentPreset(in: dir)
        let cache = dir.appendingPathComponent("t.cache").path

        // Missing under the default `refuse`: the error names the command that builds it.
        let cached = try Self.writeConfig(in: dir, name: "cached.yaml", cache: "t.cache")
        let missing = try Self.train(cached, out: "missing", in: dir)
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("teacher_cache"), "\(missing.stderr)")
        #expect(missing.stderr.contains("conaclip cache build --teacher \(Self.teacher) --data pairs.jsonl --split train --out t.cache"),
                "\(missing.stderr)")

        let build = try CacheCommandTests.build(manifest, out: cache, workers: 1, in: dir)
        #expect(build.status == 0, "\(build.stderr)")
        let withCache = try Self.train(cached, out: "with-cache", in: dir)
        #expect(withCache.status == 0, "\(withCache.stderr)")
        #expect(withCache.stdout.contains("embeddings read from the cache t.cache (37 records"), "\(withCache.stdout)")

        let plain = try Self.writeConfig(in: dir, name: "plain.yaml", cache: nil)
        let withTeacher = try Self.train(plain, out: "with-teacher", in: dir)
        #expect(withTeacher.status == 0, "\(withTeacher.stderr)")
        #expect(!withTeacher.stdout.contains("from the cache"))

        // The same losses step by step: the cache holds what the teacher computes,
        // so only the forward passes' float rounding separates the two runs.
        let a = try Self.metrics("with-cache", in: dir), b = try Self.metrics("with-teacher", in: dir)
        #expect(a.count == 3 && b.count == 3)
        for (stepA, stepB) in zip(a, b) {
            #expect(Set(stepA.keys) == Set(stepB.keys) && stepA.count == 5)
            for (name, value) in stepA {
                let other = try #require(stepB[name])
                #expect(abs(value - other) <= 1e-4 * max(abs(other), 1e-3), "\(name): \(value) with the cache, \(other) without")
            }
        }
    }

    @Test("a stale or corrupt cache is refused under refuse and rebuilt under rebuild")
    func staleAndCorruptCaches() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = try CacheCommandTests.writeManifest(in: dir)
        try Self.writeStudentPreset(in: dir)
        let cache = dir.appendingPathComponent("t.cache").path

        // Built over every split (40 records) while training reads the 37 train records.
        let all = try CLIRunner.run(["cache", "build", "--teacher", Self.teacher, "--data", manifest, "--out", cache],
                                    in: dir, timeout: 120)
        #expect(all.status == 0, "\(all.stderr)")
        let refuse = try Self.writeConfig(in: dir, name: "refuse.yaml", cache: "{path: t.cache, on_stale: refuse}")
        let stale = try Self.train(refuse, out: "stale", in: dir)
        #expect(stale.status != 0)
        #expect(stale.stderr.contains("was built for something else and is refused"), "\(stale.stderr)")
        #expect(stale.stderr.contains("record_count"), "\(stale.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("stale/final").path))

        let rebuild = try Self.writeConfig(in: dir, name: "rebuild.yaml", cache: "{path: t.cache, on_stale: rebuild}")
        let rebuilt = try Self.train(rebuild, out: "rebuilt", in: dir)
        #expect(rebuilt.status == 0, "\(rebuilt.stderr)")
        let inspect = try CLIRunner.run(["cache", "inspect", cache], in: dir)
        #expect(inspect.stdout.contains("records: 37\n"), "\(inspect.stdout)")
        #expect(inspect.stdout.contains("split train"), "\(inspect.stdout)")

        // One flipped payload bit: refused as corrupt (the payload checksum is verified by default).
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: cache)))
        bytes[bytes.count - 7] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: cache))
        let corrupt = try Self.train(refuse, out: "corrupt", in: dir)
        #expect(corrupt.status != 0)
        #expect(corrupt.stderr.contains("is corrupt"), "\(corrupt.stderr)")
        let repaired = try Self.train(rebuild, out: "repaired", in: dir)
        #expect(repaired.status == 0, "\(repaired.stderr)")
        let check = try CLIRunner.run(["cache", "inspect", cache], in: dir)
        #expect(check.status == 0 && check.stdout.contains("checksums match"), "\(check.stdout)\(check.stderr)")
    }
}
