import Foundation
import Testing

/// `conaclip ablate` end to end on configs/ablation-tiny.yaml (the smoke
/// set-up: tiny models, synthetic shapes): every cell stopped part-way,
/// resumed from its checkpoint to the weights of an uninterrupted run,
/// tabulated, and not rerun by a third invocation.
@Suite struct AblateCommandTests {
    static func ablate(_ arguments: [String], in directory: URL) throws -> CLIRunner.Run {
        try CLIRunner.run(["ablate", "--grid", "configs/ablation-tiny.yaml", "--out", "abl"] + arguments,
                          in: directory, timeout: 400)
    }

    static let runs = ["baseline", "inter-ts_sym-kl_0.07", "inter-ts_sym-kl_0.07+intra-ss_sd_1.0"]

    static func record(_ slug: String, in directory: URL) throws -> [String: Any] {
        let data = try Data(contentsOf: directory.appendingPathComponent("abl/results/\(slug).json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func startEvents(in directory: URL) throws -> [String] {
        let log = try String(contentsOf: directory.appendingPathComponent("abl/ablate.log"), encoding: .utf8)
        return log.split(separator: "\n").map(String.init).filter { $0.contains(" start ") }
    }

    @Test func stoppedCellsResumeAndFinishedCellsAreNotRerun() throws {
        let directory = try TrainCommandTests.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }

        // 1. Every cell stops after 2 of its 4 steps, leaving a checkpoint and no result.
        let first = try Self.ablate(["--stop-after-step", "2"], in: directory)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("ablate: 0 trained, 0 recorded (not rerun), 3 unfinished, 0 failed"), "\(first.stdout)")
        for slug in Self.runs {
            #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("abl/cells/\(slug)/checkpoints/step-000002").path))
            #expect(try Self.record(slug, in: directory)["status"] as? String == "started")
        }
        // The cell identical to the baseline is not a run of its own.
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("abl/cells/intra-ts_infonce_0.07").path))
        #expect(try Self.startEvents(in: directory).count == 3)

        // 2. The next invocation resumes each from step 2, two at a time, and evaluates them.
        let second = try Self.ablate(["--jobs", "2"], in: directory)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("ablate: 3 trained, 0 recorded (not rerun), 0 unfinished, 0 failed"), "\(second.stdout)")
        var means: [String: Double] = [:]
        for slug in Self.runs {
            let log = try String(contentsOf: directory.appendingPathComponent("abl/logs/\(slug).log"), encoding: .utf8)
            #expect(log.contains("checkpoints/step-000002 (step 2 of 4)"), "\(slug) did not resume: \(log)")
            let record = try Self.record(slug, in: directory)
            #expect(record["status"] as? String == "done")
            #expect(record["attempts"] as? Int == 2)
            #expect(record["evaluated_pairs"] as? Int == 48)
            let t2i = try #require(record["t2i"] as? [String: Double]), i2t = try #require(record["i2t"] as? [String: Double])
            let six = ["r1", "r5", "r10"].compactMap { t2i[$0] } + ["r1", "r5", "r10"].compactMap { i2t[$0] }
            #expect(six.count == 6 && six.allSatisfy { $0 >= 0 && $0 <= 100 })
            #expect(t2i["r1"]! <= t2i["r5"]! && t2i["r5"]! <= t2i["r10"]!)
            let mean = try #require(record["mean_recall"] as? Double)
            #expect(abs(mean - six.reduce(0, +) / 6) < 1e-9)
            means[slug] = mean
        }
        // The stopped-and-resumed baseline ends with the weights of an uninterrupted run of its config.
        let straight = try CLIRunner.run(["train", "--config", "abl/configs/baseline.yaml", "--out", "straight", "--progress", "none"],
                                         in: directory, timeout: 180)
        #expect(straight.status == 0, "\(straight.stderr)")
        let digest = try #require(TrainCommandTests.digest(straight))
        #expect(try Self.record("baseline", in: directory)["parameter_sha256"] as? String == digest)

        // The table: Markdown and CSV, one line per cell, the baseline's numbers for the cell identical to it.
        let markdown = try String(contentsOf: directory.appendingPathComponent("abl/ablation.md"), encoding: .utf8)
        #expect(markdown.contains("| interaction type | InfoNCE | FD | SD | KL-Div | Sym-SD | Sym-KL-Div |"))
        #expect(markdown.contains("| + `inter-ts:sym-kl:0.07 + intra-ss:sd:1.0` |"))
        #expect(second.stdout.contains("## Every run"))
        let csv = try String(contentsOf: directory.appendingPathComponent("abl/ablation.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(csv.count == 5)
        let column = try #require(csv.first?.firstIndex(of: "mean_recall"))
        #expect(csv.dropFirst().map { $0[0] } == ["baseline", "inter-ts:sym-kl:0.07", "intra-ts:infonce:0.07",
                                                  "inter-ts:sym-kl:0.07 + intra-ss:sd:1.0"])
        #expect(csv[1][6] == "done" && csv[3][6] == "same as baseline")
        #expect(Double(csv[1][column]).map { abs($0 - (means["baseline"] ?? -1)) < 1e-4 } == true)
        #expect(csv[3][column] == csv[1][column])

        // 3. A third invocation trains nothing: no start event, the records untouched.
        let before = try Self.runs.map { try Data(contentsOf: directory.appendingPathComponent("abl/results/\($0).json")) }
        let third = try Self.ablate([], in: directory)
        #expect(third.status == 0, "\(third.stderr)")
        #expect(third.stdout.contains("ablate: 0 trained, 3 recorded (not rerun), 0 unfinished, 0 failed"), "\(third.stdout)")
        #expect(try Self.startEvents(in: directory).count == 6)
        #expect(try Self.runs.map { try Data(contentsOf: directory.appendingPathComponent("abl/results/\($0).json")) } == before)

        // 4. Another length makes every record stale: a dry run says so and moves nothing.
        let grid = try String(contentsOf: directory.appendingPathComponent("configs/ablation-tiny.yaml"), encoding: .utf8)
        try grid.replacingOccurrences(of: "steps: 4 ", with: "steps: 3 ")
            .write(to: directory.appendingPathComponent("longer.yaml"), atomically: true, encoding: .utf8)
        let dry = try CLIRunner.run(["ablate", "--grid", "longer.yaml", "--out", "abl", "--dry-run"], in: directory)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("0 recorded, 3 to train"), "\(dry.stdout)")
        #expect(dry.stdout.components(separatedBy: "stale (recorded under another digest").count == 4, "\(dry.stdout)")
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("abl/cells/baseline/final").path))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("abl/stale").path))
    }

    @Test func theSharedTeacherCacheIsCheckedOrBuiltOnceBeforeTheCells() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try CacheCommandTests.writeManifest(in: directory)
        try TrainTeacherCacheTests.writeStudentPreset(in: directory)
        let grid = "cells: [inter-ss:kl:0.07]\neval: {manifest: pairs.jsonl, split: val, batch: 8}\n"
        for policy in ["refuse", "rebuild"] {
            _ = try TrainTeacherCacheTests.writeConfig(in: directory, name: "\(policy).yaml", cache: "{path: t.cache, on_stale: \(policy)}")
            try "base: \(policy).yaml\n\(grid)".write(to: directory.appendingPathComponent("g-\(policy).yaml"), atomically: true, encoding: .utf8)
        }
        // Missing under refuse: one error naming the command that builds it, and no cell started.
        let refused = try CLIRunner.run(["ablate", "--grid", "g-refuse.yaml", "--out", "a", "--jobs", "2"], in: directory)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("conaclip cache build --teacher \(TrainTeacherCacheTests.teacher) --data pairs.jsonl --split train --out t.cache"),
                "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("a/logs").path).isEmpty)
        // Under rebuild, the runner builds it once; both cells, run side by side, read it.
        let built = try CLIRunner.run(["ablate", "--grid", "g-rebuild.yaml", "--out", "b", "--jobs", "2"], in: directory, timeout: 300)
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stdout.components(separatedBy: "building it (on_stale: rebuild)").count == 2, "\(built.stdout)")
        #expect(built.stdout.contains("ablate: 2 trained"), "\(built.stdout)")
        for slug in ["baseline", "inter-ss_kl_0.07"] {
            let log = try String(contentsOf: directory.appendingPathComponent("b/logs/\(slug).log"), encoding: .utf8)
            #expect(log.contains("embeddings read from the cache t.cache (37 records"), "\(log)")
            #expect(!log.contains("building it"), "\(slug) built the cache again")
        }
    }

    @Test func missingDataAndTeacherAreExplainedBeforeAnythingRuns() throws {
        let directory = try TrainCommandTests.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        // configs/ablation.yaml needs the emoji data and the pre-trained teacher, absent here.
        let run = try CLIRunner.run(["ablate", "--grid", "configs/ablation.yaml", "--out", "abl"], in: directory)
        #expect(run.status != 0)
        #expect(run.stderr.contains("conaclip data emoji"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("abl").path))

        // With data but no teacher directory, the teacher is named.
        let manifest = try CacheCommandTests.writeManifest(in: directory)
        try """
            model: configs/models/tiny.yaml
            teacher: no-such-teacher
            data: {manifest: \(manifest)}
            batch_size: 8
            steps: 3
            loss: {terms: [intra-ts:infonce:0.07]}
            """.write(to: directory.appendingPathComponent("b.yaml"), atomically: true, encoding: .utf8)
        try "base: b.yaml\ncells: [inter-ts:sym-kl:0.07]\n"
            .write(to: directory.appendingPathComponent("g.yaml"), atomically: true, encoding: .utf8)
        let noTeacher = try CLIRunner.run(["ablate", "--grid", "g.yaml", "--out", "abl2"], in: directory)
        #expect(noTeacher.status != 0)
        #expect(noTeacher.stderr.contains("the teacher no-such-teacher (named by b.yaml) is not a model directory"),
                "\(noTeacher.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("abl2").path))

        // Fewer steps than the base's warmup: refused before any cell starts (smoke.yaml warms up for 2).
        try "base: configs/smoke.yaml\nsteps: 1\ncells: [inter-ts:sym-kl:0.07]\neval: {synthetic: {pairs: 8}}\n"
            .write(to: directory.appendingPathComponent("short.yaml"), atomically: true, encoding: .utf8)
        let short = try CLIRunner.run(["ablate", "--grid", "short.yaml", "--out", "abl3"], in: directory)
        #expect(short.status != 0)
        #expect(short.stderr.contains("each run would take 1 steps, fewer than the 2 warmup steps of configs/smoke.yaml"), "\(short.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("abl3").path))
    }
}
