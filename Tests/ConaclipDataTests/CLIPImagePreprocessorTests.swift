import Testing
@testable import ConaclipData

/// `CLIPImagePreprocessor` against Hugging Face's `CLIPImageProcessorPil`
/// output stored in the fixture, plus properties checked directly.
@Suite struct CLIPImagePreprocessorTests {
    /// The 8-bit CHW crop the preprocessor produced, read back from its
    /// float output through the fixture's normalisation table.
    static func chw(of image: RGBImage) -> [UInt8] {
        let plane = image.width * image.height
        var out = [UInt8](repeating: 0, count: 3 * plane)
        for i in 0..<plane {
            for c in 0..<3 { out[c * plane + i] = image.pixels[3 * i + c] }
        }
        return out
    }

    @Test func normalisationMatchesHuggingFaceBitForBit() throws {
        let fixture = try ImageFixture.load()
        let table = ImageFixture.floats(fixture.normalization_table)
        #expect(table.count == 3 * 256)
        let processor = try CLIPImagePreprocessor()
        for c in 0..<3 {
            for v in 0..<256 {
                #expect(processor.normalized(UInt8(v), channel: c) == table[c * 256 + v], "channel \(c) value \(v)")
            }
        }
    }

    @Test func outputMatchesHuggingFace() throws {
        let fixture = try ImageFixture.load()
        let table = ImageFixture.floats(fixture.normalization_table)
        let stdMin = CLIPImagePreprocessor.clipStd.min() ?? 1
        var workspace = ResamplingWorkspace()
        #expect(fixture.preprocess.count >= 8)
        for entry in fixture.preprocess {
            let image = ImageFixture.pattern(width: entry.width, height: entry.height, seed: entry.seed)
            let processor = try CLIPImagePreprocessor(size: entry.size, cropSize: entry.crop)
            let resized = processor.resizedSize(width: entry.width, height: entry.height)
            #expect(resized.width == entry.resized_width && resized.height == entry.resized_height, "\(entry.name)")

            var output = [Float](repeating: .nan, count: processor.valuesPerImage)
            output.withUnsafeMutableBufferPointer { processor.preprocess(image, into: $0, workspace: &workspace) }
            let plane = entry.crop * entry.crop

            // Hugging Face's float output, rebuilt losslessly from the stored bytes.
            let identity = entry.width == entry.resized_width && entry.height == entry.resized_height
            let tolerance: Float = identity ? 1e-6 : 1.0 / 255.0 / stdMin
            var maxDiff: Float = 0
            var compared = 0
            if let stored = entry.crop_chw {
                let bytes = ImageFixture.bytes(stored)
                #expect(bytes.count == 3 * plane)
                for (i, byte) in bytes.enumerated() {
                    maxDiff = max(maxDiff, abs(output[i] - table[(i / plane) * 256 + Int(byte)]))
                }
                compared = bytes.count
            } else if let sample = entry.crop_chw_sample, let stride = entry.crop_chw_stride {
                for (j, byte) in ImageFixture.bytes(sample).enumerated() {
                    let i = j * stride
                    maxDiff = max(maxDiff, abs(output[i] - table[(i / plane) * 256 + Int(byte)]))
                    compared += 1
                }
            }
            #expect(compared > 0, "\(entry.name)")
            #expect(maxDiff <= tolerance, "\(entry.name): max abs difference \(maxDiff)")
            let sum = output.reduce(0.0) { $0 + Double($1) }
            // Covers every value, also for the sampled 224 x 224 cases.
            #expect(abs(sum - entry.pixel_values_sum) <= 1e-6 * Double(output.count) + (identity ? 0 : 0.05),
                    "\(entry.name): sum \(sum) vs \(entry.pixel_values_sum)")

            // Stronger: the 8-bit crop is exactly the one Hugging Face used.
            let crop = processor.croppedImage(image, workspace: &workspace)
            #expect(ImageFixture.fnv1a64(Self.chw(of: crop)) == entry.crop_chw_fnv1a64,
                    "\(entry.name): 8-bit crop differs from Hugging Face's")
        }
    }

    @Test func centreCropOffsetsFollowHuggingFaceOnOddSizes() throws {
        // 7 x 5 with shortest edge 5 is not resized; a 3 x 3 crop starts at
        // left (7-3)//2 = 2, top (5-3)//2 = 1.
        var image = RGBImage(width: 7, height: 5)
        for y in 0..<5 { for x in 0..<7 { image[x, y] = (UInt8(x * 30), UInt8(y * 40), UInt8(x + 10 * y)) } }
        let processor = try CLIPImagePreprocessor(size: 5, cropSize: 3)
        var workspace = ResamplingWorkspace()
        let crop = processor.croppedImage(image, workspace: &workspace)
        for y in 0..<3 {
            for x in 0..<3 {
                #expect(crop[x, y] == image[x + 2, y + 1])
            }
        }
        // 6 x 8 cropped to 3: left (6-3)//2 = 1, top (8-3)//2 = 2.
        let tall = ImageFixture.pattern(width: 6, height: 8, seed: 1)
        let tallCrop = try CLIPImagePreprocessor(size: 6, cropSize: 3).croppedImage(tall, workspace: &workspace)
        #expect(tallCrop == tall.cropped(x: 1, y: 2, width: 3, height: 3))
    }

    @Test func cropLargerThanImagePadsLikeHuggingFace() throws {
        // 3 x 2, shortest edge 2 (no resize), crop 5: HF pads with zeros, the
        // image sits at top ceil((5-2)/2) = 2, left ceil((5-3)/2) = 1.
        let image = ImageFixture.pattern(width: 3, height: 2, seed: 4)
        let processor = try CLIPImagePreprocessor(size: 2, cropSize: 5)
        var workspace = ResamplingWorkspace()
        let crop = processor.croppedImage(image, workspace: &workspace)
        for y in 0..<5 {
            for x in 0..<5 {
                let inside = (1..<4).contains(x) && (2..<4).contains(y)
                let expected = inside ? image[x - 1, y - 2] : (0, 0, 0)
                #expect(crop[x, y] == expected, "(\(x), \(y))")
            }
        }
    }

    @Test func batchesLandAtTheirOffsetsAndNothingElseIsTouched() throws {
        let processor = try CLIPImagePreprocessor(size: 8, cropSize: 8)
        let images = [ImageFixture.pattern(width: 8, height: 8, seed: 1),
                      ImageFixture.pattern(width: 20, height: 11, seed: 2),
                      ImageFixture.pattern(width: 5, height: 9, seed: 3)]
        let per = processor.valuesPerImage
        #expect(per == 3 * 8 * 8)
        var buffer = [Float](repeating: 12345, count: per * images.count + 7)
        var workspace = ResamplingWorkspace()
        buffer.withUnsafeMutableBufferPointer { all in
            processor.preprocess(images, into: UnsafeMutableBufferPointer(rebasing: all[0..<(per * images.count)]),
                                 workspace: &workspace)
        }
        #expect(buffer[(per * images.count)...].allSatisfy { $0 == 12345 })
        for (i, image) in images.enumerated() {
            var single = [Float](repeating: 0, count: per)
            single.withUnsafeMutableBufferPointer { processor.preprocess(image, into: $0, workspace: &workspace) }
            #expect(Array(buffer[(i * per)..<((i + 1) * per)]) == single)
        }
        // The allocating convenience gives the same floats.
        #expect(processor.preprocess(images) == Array(buffer[0..<(per * images.count)]))
        // An 8 x 8 image at size 8 is not resampled: its values are exactly the table's.
        let first = images[0]
        for c in 0..<3 {
            for p in 0..<64 {
                #expect(buffer[c * 64 + p] == processor.normalized(first.pixels[3 * p + c], channel: c))
            }
        }
    }

    @Test func invalidConfigurationsAreRefused() {
        #expect(throws: ImagePreprocessingError.invalidSize(name: "size", value: 0)) {
            try CLIPImagePreprocessor(size: 0)
        }
        #expect(throws: ImagePreprocessingError.invalidSize(name: "crop size", value: -3)) {
            try CLIPImagePreprocessor(cropSize: -3)
        }
        #expect(throws: ImagePreprocessingError.self) { try CLIPImagePreprocessor(std: [1, 0, 1]) }
        #expect(throws: ImagePreprocessingError.self) { try CLIPImagePreprocessor(mean: [0.5, 0.5]) }
    }
}
