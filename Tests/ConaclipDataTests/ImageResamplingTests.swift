import Testing
@testable import ConaclipData

/// Pillow-exact bicubic resizing, checked against Pillow's own output stored
/// in the fixture, plus the window and identity properties preprocessing
/// relies on.
@Suite struct ImageResamplingTests {
    @Test func resizeMatchesPillowByteForByte() throws {
        let fixture = try ImageFixture.load()
        var workspace = ResamplingWorkspace()
        for entry in fixture.preprocess {
            let image = ImageFixture.pattern(width: entry.width, height: entry.height, seed: entry.seed)
            let resized = ImageResampling.resizeBicubic(image, width: entry.resized_width,
                                                        height: entry.resized_height, workspace: &workspace)
            if let stored = entry.resized_rgb {
                let expected = ImageFixture.bytes(stored)
                let maxDiff = zip(resized.pixels, expected).map { abs(Int($0) - Int($1)) }.max() ?? 0
                #expect(resized.pixels.count == expected.count && maxDiff == 0, "\(entry.name): max diff \(maxDiff)")
            }
            #expect(ImageFixture.fnv1a64(resized.pixels) == entry.resized_fnv1a64, "\(entry.name)")
        }
    }

    @Test func windowsEqualTheCorrespondingPartOfAFullResize() {
        var workspace = ResamplingWorkspace()
        let image = ImageFixture.pattern(width: 37, height: 23, seed: 11)
        for (w, h) in [(19, 50), (37, 12), (60, 23), (37, 23)] {
            let full = ImageResampling.resizeBicubic(image, width: w, height: h, workspace: &workspace)
            let columns = (w / 3)..<(w - 2), rows = 1..<(h / 2 + 1)
            var window = [UInt8](repeating: 0, count: columns.count * rows.count * 3)
            window.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                ImageResampling.resizeBicubic(image, width: w, height: h, columns: columns, rows: rows,
                                              workspace: &workspace, into: base)
            }
            let expected = full.cropped(x: columns.lowerBound, y: rows.lowerBound,
                                        width: columns.count, height: rows.count)
            #expect(window == expected.pixels, "\(w)x\(h)")
        }
    }

    @Test func sameSizeIsTheIdentityAndFlatImagesStayFlat() {
        let image = ImageFixture.pattern(width: 13, height: 9, seed: 2)
        #expect(image.resized(width: 13, height: 9) == image)
        // A constant image stays constant under any resize: the normalised
        // weights sum to one, so no overshoot appears.
        let flat = RGBImage(width: 17, height: 5, red: 200, green: 3, blue: 77)
        for (w, h) in [(4, 9), (40, 2), (17, 11), (3, 5)] {
            let out = flat.resized(width: w, height: h)
            #expect(out == RGBImage(width: w, height: h, red: 200, green: 3, blue: 77), "\(w)x\(h)")
        }
    }

    @Test func fittingKeepsTheAspectRatio() {
        let image = ImageFixture.pattern(width: 300, height: 100, seed: 5)
        let fitted = image.fitted(within: 60)
        #expect(fitted.width == 60 && fitted.height == 20)
        #expect(image.fitted(within: 400) == image)
    }
}
