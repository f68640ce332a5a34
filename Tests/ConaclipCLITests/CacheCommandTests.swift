import Foundation
import Testing

/// `conaclip cache build / inspect` on the tiny Hugging Face fixture model and
/// a JSONL manifest over its images written into a temporary directory.
@Suite("conaclip cache")
struct CacheCommandTests {
    static let fixture = CLIRunner.repositoryRoot.appendingPathComponent("Tests/ConaclipModelsTests/Fixtures/hf-tiny-clip")
    static let model = fixture.appendingPathComponent("model").path

    /// A manifest of `train` records (37: two full chunks of 16 and a partial
    /// one) and 3 `val` records, cycling through the fixture's images.
    static func writeManifest(in dir: URL) throws -> String {
        let images = ["rgb.png", "gray.png", "palette.png", "photo.jpg", "rgba.png"]
        let words = ["a", "photo", "of", "red", "cat", "dog", "on", "the", "grey", "mat"]
        var lines: [String] = []
        for i in 0..<40 {
            let caption = (0...(i % 4)).map { words[(i * 3 + $0 * 7) % words.count] }.joined(separator: " ")
            let image = fixture.appendingPathComponent("images/\(images[i % images.count])").path
            let split = i % 13 == 12 ? "val" : "train"
            let object: [String: Any] = ["id": "pair-\(i)", "image": image, "caption": caption, "split": split]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            lines.append(String(decoding: data, as: UTF8.self))
        }
        let path = dir.appendingPathComponent("pairs.jsonl").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func build(_ manifest: String, out: String, workers: Int, in dir: URL,
                      extra: [String] = []) throws -> CLIRunner.Run {
        try CLIRunner.run(["cache", "build", "--teacher", model, "--data", manifest, "--split", "train",
                           "--out", out, "--workers", String(workers)] + extra, in: dir, timeout: 120)
    }

    @Test("1, 2 and 3 worker processes write byte-identical caches; inspect prints and verifies the header")
    func workersGiveIdenticalFiles() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = try Self.writeManifest(in: dir)
        var files: [Data] = []
        for workers in [1, 2, 3] {
            let out = dir.appendingPathComponent("w\(workers).cache").path
            let run = try Self.build(manifest, out: out, workers: workers, in: dir)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("wrote \(out): 37 records, 24-wide image and text embeddings, \(workers) worker(s)"))
            files.append(try Data(contentsOf: URL(fileURLWithPath: out)))
        }
        #expect(files[0].count > 2 * 37 * 24 * 4)
        #expect(files[1] == files[0], "2 workers vs 1")
        #expect(files[2] == files[0], "3 workers vs 1")
        // The parts directories are gone; only the caches, the manifest and the runner's logs remain.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { !$0.hasPrefix("stdout-") && !$0.hasPrefix("stderr-") }
        #expect(Set(leftovers) == ["pairs.jsonl", "w1.cache", "w2.cache", "w3.cache"])

        let inspect = try CLIRunner.run(["cache", "inspect", dir.appendingPathComponent("w2.cache").path], in: dir)
        #expect(inspect.status == 0, "\(inspect.stderr)")
        for line in ["records: 37\n", "dim: 24\n", "embedding: raw-projection\n", "first ids: pair-0, pair-1, pair-2, pair-3, pair-4, ...\n",
                     "split train", "verified: header and payload checksums match"] {
            #expect(inspect.stdout.contains(line), "inspect output lacks \(line)")
        }
        let json = try CLIRunner.run(["cache", "inspect", "--json", dir.appendingPathComponent("w1.cache").path], in: dir)
        let header = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let ids = header?["record_ids"] as? [String]
        #expect(ids?.count == 37 && ids?.contains("pair-12") == false)
    }

    @Test("inspect refuses a damaged cache and names what is wrong")
    func inspectRefusesDamage() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = try Self.writeManifest(in: dir)
        let out = dir.appendingPathComponent("t.cache").path
        let run = try Self.build(manifest, out: out, workers: 1, in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
        bytes[bytes.count - 10] ^= 0x80
        try Data(bytes).write(to: URL(fileURLWithPath: out))
        let damaged = try CLIRunner.run(["cache", "inspect", out], in: dir)
        #expect(damaged.status != 0)
        #expect(damaged.stderr.contains("the payload does not match its SHA-256"))
        #expect(damaged.stderr.contains("conaclip cache build --teacher \(Self.model) --data \(manifest) --split train --out \(out)"))
        let unchecked = try CLIRunner.run(["cache", "inspect", "--no-verify", out], in: dir)
        #expect(unchecked.status == 0)
        #expect(unchecked.stdout.contains("verified: header and sizes only (--no-verify)"))
    }

    @Test("a failing worker fails the build with its standard error and leaves no file behind")
    func workerFailure() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = try Self.writeManifest(in: dir)
        let out = dir.appendingPathComponent("t.cache").path
        let missingTeacher = dir.appendingPathComponent("no-such-teacher").path
        let run = try CLIRunner.run(["cache", "build", "--teacher", missingTeacher, "--data", manifest,
                                     "--out", out, "--workers", "2"], in: dir, timeout: 120)
        #expect(run.status != 0)
        #expect(run.stderr.contains("cache build worker"))
        #expect(run.stderr.contains("failed with exit status"))
        #expect(run.stderr.contains("teacher model \(missingTeacher)"))
        #expect(!FileManager.default.fileExists(atPath: out))
        let hidden = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
        #expect(hidden.isEmpty, "left behind: \(hidden)")
    }

    @Test("workers that overrun --timeout are stopped and the build fails saying so")
    func workerTimeout() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = try Self.writeManifest(in: dir)
        let out = dir.appendingPathComponent("t.cache").path
        // Starting a process and loading the teacher alone take far longer than 1 ms.
        let run = try Self.build(manifest, out: out, workers: 2, in: dir, extra: ["--timeout", "0.001"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("did not finish within"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
