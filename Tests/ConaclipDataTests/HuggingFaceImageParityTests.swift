import Foundation
import Testing
import ConaclipData

/// Image decoding + CLIP preprocessing + image tower against Hugging Face, on
/// the fixture in Tests/ConaclipModelsTests/Fixtures/hf-tiny-clip (written by
/// Tests/Reference/make_hf_fixture.py with Pillow and `CLIPImageProcessor`).
/// The images are 32x32, the model's size, so resizing and cropping are the
/// identity and this checks decoding (RGB, grayscale, RGBA composited onto
/// white, palette PNG; baseline JPEG), rescaling and normalisation.
@Suite struct HuggingFaceImageParityTests {
    struct Expected: Decodable {
        struct Image: Decodable {
            var file: String
            var mode: String
        }
        var tolerance: Float
        var images: [Image]
    }

    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ConaclipModelsTests/Fixtures/hf-tiny-clip")

    static func load() throws -> (expected: Expected, outputs: SafeTensorsFile) {
        let json = try Data(contentsOf: fixture.appendingPathComponent("expected.json"))
        let outputs = try SafeTensorsFile(path: fixture.appendingPathComponent("expected.safetensors").path)
        return (try JSONDecoder().decode(Expected.self, from: json), outputs)
    }

    /// Decodes every fixture image with conaclip and preprocesses it at the model's image size.
    static func conaclipPixelValues(_ expected: Expected, imageSize: Int) throws -> Tensor {
        let images = try expected.images.map { (entry) throws -> RGBImage in
            try RGBImage(contentsOfFile: fixture.appendingPathComponent(entry.file).path)
        }
        let preprocessor = try CLIPImagePreprocessor(size: imageSize, cropSize: imageSize)
        return try Tensor(shape: [images.count, 3, imageSize, imageSize], scalars: preprocessor.preprocess(images))
    }

    /// Largest |a - b| per leading-axis row, or infinity for a shape mismatch / non-finite value.
    static func rowMaxAbsDifferences(_ a: Tensor, _ b: Tensor) -> [Float] {
        guard a.shape == b.shape, let rows = a.shape.first, rows > 0 else { return [.infinity] }
        let width = a.count / rows
        return (0..<rows).map { row in
            var worst: Float = 0
            for i in row * width..<(row + 1) * width {
                let d = abs(a.scalars[i] - b.scalars[i])
                if !d.isFinite { return .infinity }
                worst = max(worst, d)
            }
            return worst
        }
    }

    @Test func decodedAndPreprocessedPixelsMatchCLIPImageProcessor() throws {
        let (expected, outputs) = try Self.load()
        let reference = try outputs.tensor(named: "pixel_values")
        let pixels = try Self.conaclipPixelValues(expected, imageSize: 32)
        // One 8-bit step is 1/255/std >= 0.014 after normalisation, so any decoding
        // or alpha-compositing difference fails this tolerance.
        let errors = Self.rowMaxAbsDifferences(pixels, reference)
        for (entry, error) in zip(expected.images, errors) {
            #expect(error <= expected.tolerance, "\(entry.file) (\(entry.mode)): pixel_values max abs diff \(error)")
        }
        #expect(errors.count == expected.images.count)
    }

    @Test func imageEmbeddingsFromImageFilesMatchTransformers() throws {
        let (expected, outputs) = try Self.load()
        let checkpoint = CheckpointDirectory(path: Self.fixture.appendingPathComponent("model").path)
        let model = try CLIPModel(config: try checkpoint.readConfig())
        try checkpoint.loadWeights(into: model.parameters)
        let pixels = try Self.conaclipPixelValues(expected, imageSize: model.config.visionConfig.imageSize)
        var embeds = try model.encodeImages(pixels)
        let width = model.config.projectionDim
        for row in 0..<(embeds.count / width) {
            let range = row * width..<(row + 1) * width
            let norm = Float(embeds.scalars[range].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
            for i in range { embeds.scalars[i] /= norm }
        }
        let errors = Self.rowMaxAbsDifferences(embeds, try outputs.tensor(named: "image_embeds"))
        for (entry, error) in zip(expected.images, errors) {
            #expect(error <= expected.tolerance, "\(entry.file) (\(entry.mode)): image_embeds max abs diff \(error)")
        }
        #expect(errors.count == expected.images.count)
    }
}
