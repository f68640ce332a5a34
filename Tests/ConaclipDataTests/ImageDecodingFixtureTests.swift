import Testing
@testable import ConaclipData

/// Decoding against what Pillow / Hugging Face's `convert_to_rgb` produce for
/// the committed PNG and JPEG fixture files.
@Suite struct ImageDecodingFixtureTests {
    /// Offset of the first 0xFF `code` marker.
    static func marker(_ code: UInt8, in bytes: [UInt8]) -> Int? {
        for i in 0..<(bytes.count - 1) where bytes[i] == 0xFF && bytes[i + 1] == code {
            return i
        }
        return nil
    }

    @Test func everyPNGColourTypeDecodesLikePillow() throws {
        let fixture = try ImageFixture.load()
        #expect(fixture.png.count >= 20)
        var seenTypes = Set<Int>(), seenDepths = Set<Int>(), sawInterlaced = false
        for entry in fixture.png {
            let path = ImageFixture.path(entry.file)
            let image = try ImageCodec.decode(contentsOfFile: path)
            #expect(image.width == entry.width && image.height == entry.height, "\(entry.file)")
            let expected = ImageFixture.bytes(entry.rgb)
            let mismatches = zip(image.pixels, expected).filter { $0 != $1 }.count
            #expect(image.pixels.count == expected.count && mismatches == 0,
                    "\(entry.file): \(mismatches) bytes differ from the reference")
            let bytes = try ImageCodec.readFile(path)
            let header = try bytes.withUnsafeBytes { try PNGCodec.readHeader($0) }
            #expect(header.colorType == entry.color_type && header.bitDepth == entry.bit_depth
                    && header.interlaced == entry.interlaced, "\(entry.file)")
            seenTypes.insert(entry.color_type)
            seenDepths.insert(entry.bit_depth)
            sawInterlaced = sawInterlaced || entry.interlaced
        }
        #expect(seenTypes == [0, 2, 3, 4, 6])
        #expect(seenDepths == [1, 2, 4, 8, 16])
        #expect(sawInterlaced)
    }

    @Test func jpegDecodesWithinOneLevelOfPillow() throws {
        let fixture = try ImageFixture.load()
        #expect(Set(fixture.jpeg.map(\.mode)) == ["RGB", "L", "CMYK"])
        #expect(fixture.jpeg.contains { $0.progressive })
        for entry in fixture.jpeg {
            let image = try ImageCodec.decode(contentsOfFile: ImageFixture.path(entry.file))
            #expect(image.width == entry.width && image.height == entry.height, "\(entry.file)")
            let expected = ImageFixture.bytes(entry.rgb)
            #expect(image.pixels.count == expected.count)
            let maxDiff = zip(image.pixels, expected).map { abs(Int($0) - Int($1)) }.max() ?? 0
            // Both sides use libjpeg-turbo's accurate integer IDCT and fancy
            // upsampling: measured identical (Debian 2.1.5 against Pillow
            // 13's bundled build). Allow one level for other libjpeg builds.
            #expect(maxDiff <= 1, "\(entry.file): max difference \(maxDiff)")
        }
    }

    @Test func jpegHeadersDescribeTheFiles() throws {
        let fixture = try ImageFixture.load()
        for entry in fixture.jpeg {
            let bytes = try ImageCodec.readFile(ImageFixture.path(entry.file))
            let header = try bytes.withUnsafeBytes { try JPEGCodec.readHeader($0) }
            #expect(header.width == entry.width && header.height == entry.height)
            #expect(header.progressive == entry.progressive, "\(entry.file)")
            #expect(header.isCMYK == (entry.mode == "CMYK"))
            #expect(header.components == ["L": 1, "RGB": 3, "CMYK": 4][entry.mode])
        }
    }

    @Test func truncatedJPEGsAreTypedErrors() throws {
        for name in ["baseline420", "progressive"] {
            let bytes = try ImageCodec.readFile(ImageFixture.path("images/\(name).jpg"))
            // Every cut must fail, even one that only loses the final EOI
            // marker: Pillow raises "image file is truncated" for all of them.
            var truncatedCount = 0
            for cut in 3..<bytes.count {
                do throws(ImageCodecError) {
                    _ = try ImageCodec.decode(Array(bytes[0..<cut]))
                    Issue.record("\(name) cut at \(cut) of \(bytes.count) decoded")
                } catch {
                    #expect(error.format == .jpeg)
                    #expect(error.kind == .truncated || error.kind == .corrupt, "\(name) cut at \(cut): \(error)")
                    if error.kind == .truncated { truncatedCount += 1 }
                }
            }
            #expect(truncatedCount > (bytes.count - 3) / 2, "\(name): most cuts should say truncated")
            #expect(throws: Never.self) { try ImageCodec.decode(bytes) }
        }
    }

    @Test func corruptJPEGHeadersAreTypedErrors() throws {
        let bytes = try ImageCodec.readFile(ImageFixture.path("images/baseline420.jpg"))
        // Find the baseline start-of-frame marker and damage it.
        guard let sof = Self.marker(0xC0, in: bytes) else {
            Issue.record("no SOF0 marker in the fixture")
            return
        }
        var precision = bytes
        precision[sof + 4] = 12  // 12-bit samples: not supported by the 8-bit library
        var components = bytes
        components[sof + 9] = 0  // zero colour components
        var huffman = bytes
        if let dht = Self.marker(0xC4, in: bytes) {
            for i in (dht + 5)..<(dht + 21) { huffman[i] = 0xFF }  // impossible code-length counts
        }
        let cases: [(String, [UInt8])] = [("precision", precision), ("components", components), ("huffman", huffman)]
        for (label, data) in cases {
            do throws(ImageCodecError) {
                _ = try ImageCodec.decode(data)
                Issue.record("\(label): corrupt JPEG decoded")
            } catch {
                #expect(error.kind == .corrupt, "\(label): \(error)")
                #expect(!error.detail.isEmpty, "\(label): libjpeg's message should be passed on")
            }
        }
    }
}
