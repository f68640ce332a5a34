import ConaclipModels
import Foundation
import Testing

/// `conaclip checkpoint digest` and `ModelDigest` on the tiny Hugging Face
/// fixture model (Tests/ConaclipModelsTests/Fixtures/hf-tiny-clip/model).
@Suite("conaclip checkpoint digest")
struct CheckpointDigestTests {
    static let model = CLIRunner.repositoryRoot.appendingPathComponent("Tests/ConaclipModelsTests/Fixtures/hf-tiny-clip/model")

    /// The fixture's digest computed independently in Python with the snippet
    /// in ModelDigest's documentation (safetensors.numpy.load_file + hashlib)
    /// on model.safetensors.
    static let pythonDigest = "1e54cc02c3e71f38b5df6b87b991786a75abc20fc1789c988569e3eeb24bc13c"

    /// The fixture model's config and weights.
    static func loadFixture() throws -> (CLIPConfig, CLIPModel) {
        let checkpoint = CheckpointDirectory(path: model.path)
        let config = try checkpoint.readConfig()
        let clip = try CLIPModel(config: config)
        try checkpoint.loadWeights(into: clip.parameters)
        return (config, clip)
    }

    @Test("a model directory's digest is the documented scheme (checked against Python) and the CLI prints it")
    func modelDirectory() throws {
        #expect(try ModelDigest.sha256(ofModelDirectory: Self.model.path) == Self.pythonDigest)
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try CLIRunner.run(["checkpoint", "digest", Self.model.path], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == Self.pythonDigest + "\n")
    }

    @Test("a run directory means final/ if present, else the checkpoints/step-N with the largest N")
    func runDirectory() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (config, clip) = try Self.loadFixture()
        let runDir = dir.appendingPathComponent("run")
        let checkpoints = runDir.appendingPathComponent("checkpoints")
        try FileManager.default.createDirectory(at: checkpoints, withIntermediateDirectories: true)
        var digests: [String: String] = [:]
        for (name, delta) in [("step-9", Float(0.09)), ("step-10", 0.10), ("step-2", 0.02), ("final", 1)] {
            clip.parameters.values.pointer[3] += delta
            let path = name == "final" ? runDir.appendingPathComponent(name) : checkpoints.appendingPathComponent(name)
            try CheckpointDirectory.write(to: path.path, config: config, store: clip.parameters)
            digests[name] = ModelDigest.sha256(of: clip.parameters)
        }
        #expect(Set(digests.values).count == 4)
        // Distractors that must be ignored: a staging directory, a non-numeric name, a file.
        try FileManager.default.createDirectory(at: checkpoints.appendingPathComponent(".step-99.tmp-1"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: checkpoints.appendingPathComponent("step-latest"), withIntermediateDirectories: true)
        try Data().write(to: checkpoints.appendingPathComponent("step-100"))

        let withFinal = try CLIRunner.run(["checkpoint", "digest", "--show-directory", runDir.path], in: dir)
        #expect(withFinal.status == 0, "\(withFinal.stderr)")
        #expect(withFinal.stdout == "\(digests["final"] ?? "")  \(runDir.appendingPathComponent("final").path)\n")

        try FileManager.default.removeItem(at: runDir.appendingPathComponent("final"))
        let newest = try CLIRunner.run(["checkpoint", "digest", runDir.path], in: dir)
        #expect(newest.status == 0, "\(newest.stderr)")
        #expect(newest.stdout == (digests["step-10"] ?? "") + "\n")
        #expect(try ModelDigest.resolveModelDirectory(runDir.path) == checkpoints.appendingPathComponent("step-10").path)

        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let refused = try CLIRunner.run(["checkpoint", "digest", empty.path], in: dir)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("is not a model directory"))
        #expect(refused.stderr.contains("final/ or checkpoints/step-N/"))
    }

    @Test("one changed weight changes the digest; dtype on disk, metadata and memory layout do not")
    func dependsOnWeightsOnly() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (config, clip) = try Self.loadFixture()
        let store = clip.parameters
        let original = ModelDigest.sha256(of: store)

        // Re-saved in F32 with other metadata: same digest.
        let resaved = dir.appendingPathComponent("resaved").path
        try CheckpointDirectory.write(to: resaved, config: config, store: store, metadata: ["note": "re-save"])
        #expect(try ModelDigest.sha256(ofModelDirectory: resaved) == original)

        // One weight changed by one ulp: another digest.
        let spec = try #require(store.spec(named: "vision_model.post_layernorm.weight"))
        let saved = store.values.pointer[spec.offset + 1]
        store.values.pointer[spec.offset + 1] = saved.nextUp
        #expect(ModelDigest.sha256(of: store) != original)
        store.values.pointer[spec.offset + 1] = saved
        #expect(ModelDigest.sha256(of: store) == original)

        // Values that F16 holds exactly: F32, F16 and BF16 files of them share one digest.
        for i in 0..<store.count { store.values.pointer[i] = Float(Float16(store.values.pointer[i])) }
        let rounded = ModelDigest.sha256(of: store)
        for (name, dtype) in [("f32", WeightDType.float32), ("f16", .float16)] {
            let path = dir.appendingPathComponent(name).path
            try CheckpointDirectory.write(to: path, config: config, store: store, dtype: dtype)
            #expect(try ModelDigest.sha256(ofModelDirectory: path) == rounded, "\(name)")
        }
        let cli = try CLIRunner.run(["checkpoint", "digest", dir.appendingPathComponent("f16").path], in: dir)
        #expect(cli.stdout == rounded + "\n", "\(cli.stderr)")

        // The same tensors registered in another order (logit_scale first or last): same digest.
        var forward = ParameterLayout(), backward = ParameterLayout()
        for spec in store.specs { try forward.add(spec.name, shape: spec.shape) }
        for spec in store.specs.reversed() { try backward.add(spec.name, shape: spec.shape) }
        let a = ParameterStore(layout: forward), b = ParameterStore(layout: backward)
        for spec in store.specs {
            let tensor = try store.tensor(named: spec.name)
            try a.assign(tensor, to: spec.name)
            try b.assign(tensor, to: spec.name)
        }
        #expect(ModelDigest.sha256(of: a) == rounded)
        #expect(ModelDigest.sha256(of: b) == rounded)
    }
}
