import Foundation
import Testing

/// `conaclip bench data --train-model` (data headroom over the training
/// step) and `conaclip bench distill` (teacher cache against the teacher
/// every step), as real processes on tiny models and fixture images.
@Suite struct BenchHeadroomTests {
    @Test func benchDataPrintsTheHeadroomOverTheTrainingStep() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let manifest = try CacheCommandTests.writeManifest(in: directory)
        let preset = CLIRunner.repositoryRoot.appendingPathComponent("configs/models/tiny.yaml").path
        let run = try CLIRunner.run(["bench", "data", "--dataset", manifest, "--train-model", preset,
                                     "--train-batch", "4", "--train-steps", "1", "--json"], in: directory, timeout: 120)
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        // The images are prepared at the model's size.
        #expect(object["size"] as? Int == 32 && object["crop"] as? Int == 32)
        let images = try #require(object["images_per_second"] as? Double)
        let step = try #require(object["train_step"] as? [String: Any])
        let pairs = try #require(step["pairs_per_second"] as? Double)
        #expect(step["batch"] as? Int == 4 && step["threads"] as? Int == 1)
        let headroom = try #require(object["headroom"] as? Double)
        #expect(images > 0 && pairs > 0 && abs(headroom - images / pairs) <= 1e-9 * headroom)

        let text = try CLIRunner.run(["bench", "data", "--dataset", manifest, "--train-model", preset,
                                      "--train-batch", "4", "--train-steps", "1"], in: directory, timeout: 120)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("headroom:") && text.stdout.contains("training step:"), "\(text.stdout)")
        // Without --train-model nothing about training is measured.
        let plain = try CLIRunner.run(["bench", "data", "--dataset", manifest, "--json"], in: directory, timeout: 120)
        let plainObject = try #require(try JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as? [String: Any])
        #expect(plainObject["headroom"] == nil && plainObject["size"] as? Int == 224)
    }

    @Test func benchDistillComparesTheCacheWithTheTeacherOnTheSameBatches() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try CacheCommandTests.writeManifest(in: directory)
        try TrainTeacherCacheTests.writeStudentPreset(in: directory)
        let config = try TrainTeacherCacheTests.writeConfig(in: directory, name: "c.yaml", cache: nil)
        let run = try CLIRunner.run(["bench", "distill", "--config", config, "--steps", "2", "--warmup", "0", "--json"],
                                    in: directory, timeout: 120)
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let teacher = try #require(object["teacher_pairs_per_second"] as? Double)
        let cached = try #require(object["cache_pairs_per_second"] as? Double)
        let speedup = try #require(object["speedup"] as? Double)
        #expect(teacher > 0 && cached > 0 && abs(speedup - cached / teacher) <= 1e-9 * speedup)
        #expect(object["cache_records"] as? Int == 37 && object["batch"] as? Int == 8)
        let a = try #require(object["first_loss_teacher"] as? Double), b = try #require(object["first_loss_cache"] as? Double)
        #expect(abs(a - b) <= 1e-4 * abs(a), "the cached teacher must give the teacher's loss")
    }
}
