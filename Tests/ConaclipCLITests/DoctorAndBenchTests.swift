import Foundation
import Testing
import ConaclipModels

/// `conaclip doctor` (BLAS core selection by re-execution) and
/// `conaclip bench train-step`, run as real processes.
@Suite struct DoctorAndBenchTests {
    struct Doctor: Decodable {
        var blasCore: String
        var recommendedCore: String
        var blasThreads: Int
        var sgemmGFLOPS: Double
        var zmqVersion: String
        var cpus: Int
    }

    @Test func doctorRunsTheRecommendedCoreWhenNothingIsSet() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try CLIRunner.run(["doctor", "--json", "--sgemm-size", "256"], in: directory, environment: [
            "OPENBLAS_CORETYPE": nil, "CONACLIP_BLAS_REEXEC": nil, "OPENBLAS_NUM_THREADS": nil, "CONACLIP_BLAS_THREADS": nil,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try JSONDecoder().decode(Doctor.self, from: Data(run.stdout.utf8))
        // The process re-executed itself with the core chosen from the CPU flags.
        #expect(report.blasCore.lowercased() == report.recommendedCore.lowercased())
        #expect(report.blasThreads == 1)
        #expect(report.sgemmGFLOPS > 0)
        #expect(report.zmqVersion.split(separator: ".").count == 3)
        #expect(report.cpus >= 1)
    }

    @Test func doctorRespectsTheUsersCoreAndThreads() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try CLIRunner.run(["doctor", "--json", "--sgemm-size", "64"], in: directory, environment: [
            "OPENBLAS_CORETYPE": "Prescott", "CONACLIP_BLAS_REEXEC": nil, "CONACLIP_BLAS_THREADS": "2",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try JSONDecoder().decode(Doctor.self, from: Data(run.stdout.utf8))
        #expect(report.blasCore.lowercased() == "prescott")
        #expect(report.blasThreads == 2)
    }

    struct Bench: Decodable {
        var pairsPerSecond: Double
        var stepSeconds: Double
        var sgemmGflops: Double
        var fractionOfSgemmPeak: Double
        var finalLoss: Double
        var batch: Int
        enum CodingKeys: String, CodingKey {
            case pairsPerSecond = "pairs_per_second", stepSeconds = "step_seconds", sgemmGflops = "sgemm_gflops"
            case fractionOfSgemmPeak = "fraction_of_sgemm_peak", finalLoss = "final_loss", batch
        }
    }

    @Test func benchTrainStepReportsAndSavesTheModel() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let saved = directory.appendingPathComponent("bench-model").path
        let preset = CLIRunner.repositoryRoot.appendingPathComponent("configs/models/tiny.yaml").path
        let run = try CLIRunner.run(["bench", "train-step", "--model", preset, "--batch", "4", "--steps", "2",
                                     "--warmup", "1", "--json", "--save-model", saved], in: directory, timeout: 120)
        #expect(run.status == 0, "\(run.stderr)")
        let report = try JSONDecoder().decode(Bench.self, from: Data(run.stdout.utf8))
        #expect(report.batch == 4)
        #expect(report.pairsPerSecond > 0 && report.stepSeconds > 0)
        #expect(report.sgemmGflops > 0 && report.fractionOfSgemmPeak > 0)
        #expect(report.finalLoss.isFinite)
        // The saved model is a loadable checkpoint of the preset's sizes.
        let config = try CheckpointDirectory(path: saved).readConfig()
        let model = try CLIPModel(config: config)
        try CheckpointDirectory(path: saved).loadWeights(into: model.parameters)
        #expect(config == (try ModelPreset.load(path: preset)))
    }
}
