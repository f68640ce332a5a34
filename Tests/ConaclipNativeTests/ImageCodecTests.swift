import Foundation
import Testing
@testable import ConaclipNative

/// Self-contained codec tests: PNG round trips and every kind of bad input.
/// Decoding against Pillow lives in ConaclipDataTests (it needs the fixture files).
@Suite struct ImageCodecTests {
    /// A deterministic RGB image with noise and gradients (SplitMix64 bytes).
    static func noiseImage(width: Int, height: Int, seed: UInt64) -> RGBImage {
        var state = seed
        var bytes = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<bytes.count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            bytes[i] = i % 7 == 0 ? UInt8(truncatingIfNeeded: (i / 3) % width * 255 / max(1, width - 1)) : UInt8(truncatingIfNeeded: z)
        }
        return RGBImage(width: width, height: height, pixels: bytes)
    }

    static func kind(_ body: () throws(ImageCodecError) -> RGBImage) -> ImageCodecError.Kind? {
        do {
            _ = try body()
            return nil
        } catch {
            return error.kind
        }
    }

    /// CRC-32 (PNG's polynomial), to build chunks for the size-limit test.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }

    @Test(arguments: [(1, 1), (2, 3), (17, 5), (64, 33)])
    func pngRoundTripIsLossless(size: (Int, Int)) throws {
        let image = Self.noiseImage(width: size.0, height: size.1, seed: UInt64(size.0 * 1000 + size.1))
        let png = try PNGCodec.encode(image)
        #expect(ImageFormat.detect(png) == .png)
        let decoded = try ImageCodec.decode(png)
        #expect(decoded == image)
        let header = try png.withUnsafeBytes { try PNGCodec.readHeader($0) }
        #expect(header == PNGCodec.Header(width: size.0, height: size.1, colorType: 2, bitDepth: 8, interlaced: false))
    }

    @Test func pngEncodingIsDeterministic() throws {
        let image = Self.noiseImage(width: 31, height: 7, seed: 5)
        let first = try PNGCodec.encode(image)
        let second = try PNGCodec.encode(RGBImage(width: 31, height: 7, pixels: image.pixels))
        #expect(first == second)
        var changed = image
        changed[3, 2] = (1, 2, 3)
        #expect(try PNGCodec.encode(changed) != first)
    }

    @Test func everyTruncationOfAPNGIsATypedError() throws {
        let png = try PNGCodec.encode(Self.noiseImage(width: 16, height: 9, seed: 9))
        let iendSize = 12
        for cut in 0..<png.count {
            let result = Self.kind { () throws(ImageCodecError) in try ImageCodec.decode(Array(png[0..<cut])) }
            if cut < 8 {
                #expect(result == .unknownFormat, "cut at \(cut)")
            } else if cut < png.count - iendSize {
                #expect(result == .truncated, "cut at \(cut)")
            } else {
                // Only the IEND trailer is missing: the pixels are complete,
                // and Pillow accepts such files too.
                #expect(result == nil, "cut at \(cut)")
            }
        }
    }

    @Test func corruptPNGChunksAreReported() throws {
        let png = try PNGCodec.encode(Self.noiseImage(width: 16, height: 9, seed: 10))
        // Byte 16 is inside IHDR's width field: the CRC no longer matches.
        var badHeader = png
        badHeader[16] ^= 0x40
        #expect(Self.kind { () throws(ImageCodecError) in try ImageCodec.decode(badHeader) } == .corrupt)
        // Flip a byte in the middle of the compressed data.
        var badData = png
        badData[png.count / 2] ^= 0xFF
        let error = Self.kind { () throws(ImageCodecError) in try ImageCodec.decode(badData) }
        #expect(error == .corrupt)
    }

    @Test func absurdDimensionsAreRefusedBeforeDecoding() throws {
        // A header claiming 20000 x 10 followed by no image data at all.
        let ihdr = Self.bigEndian(20000) + Self.bigEndian(10) + [8, 2, 0, 0, 0]
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Self.chunk("IHDR", ihdr)
            + Self.chunk("IEND", [])
        #expect(Self.kind { () throws(ImageCodecError) in try ImageCodec.decode(png) }
                == .tooLarge(width: 20000, height: 10, limit: 16384))
        let small = try PNGCodec.encode(Self.noiseImage(width: 16, height: 9, seed: 1))
        #expect(Self.kind { () throws(ImageCodecError) in try ImageCodec.decode(small, maxDimension: 8) }
                == .tooLarge(width: 16, height: 9, limit: 8))
    }

    @Test func randomBytesNeverCrash() {
        var state: UInt64 = 42
        func next() -> UInt8 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        let pngMagic: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        let jpegMagic: [UInt8] = [0xFF, 0xD8, 0xFF]
        for trial in 0..<300 {
            let length = Int(next()) * 4 + Int(next() % 4)
            var bytes = (0..<length).map { _ in next() }
            let expectedFormat: ImageFormat?
            switch trial % 3 {
            case 0: bytes = pngMagic + bytes; expectedFormat = .png
            case 1: bytes = jpegMagic + bytes; expectedFormat = .jpeg
            default:
                if bytes.count >= 3 { bytes[0] = 0x00 }  // make sure no magic matches by chance
                expectedFormat = nil
            }
            do {
                _ = try ImageCodec.decode(bytes)
                Issue.record("random bytes decoded (trial \(trial))")
            } catch {
                #expect(error.format == expectedFormat)
                if expectedFormat == nil {
                    #expect(error.kind == .unknownFormat)
                } else {
                    // Any decoding error (a random header may even claim a
                    // huge size), but never a format or file error.
                    #expect(error.kind != .unknownFormat && error.kind != .unreadable, "trial \(trial): \(error)")
                }
            }
        }
    }

    @Test func minimalJPEGFragmentsAreTypedErrors() {
        // Start-of-image and nothing else: the header never arrives.
        #expect(Self.kind { () throws(ImageCodecError) in try ImageCodec.decode([0xFF, 0xD8, 0xFF]) } == .truncated)
        // A start-of-frame claiming 0 x 0 pixels.
        let sof: [UInt8] = [0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x11, 0x00,
                            0xFF, 0xD9]
        #expect(Self.kind { () throws(ImageCodecError) in try ImageCodec.decode(sof) } == .corrupt)
        // Empty input.
        #expect(Self.kind { () throws(ImageCodecError) in try ImageCodec.decode([UInt8]()) } == .unknownFormat)
    }

    @Test func fileErrorsNameTheFile() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("conaclip-image-codec-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let missing = directory.appendingPathComponent("missing.png").path
        do {
            _ = try ImageCodec.decode(contentsOfFile: missing)
            Issue.record("missing file decoded")
        } catch {
            #expect(error.kind == .unreadable)
            #expect(error.source == missing)
            #expect(error.description.contains(missing))
        }

        let garbage = directory.appendingPathComponent("garbage.jpg").path
        try ImageCodec.writeFile(Array("not an image".utf8), to: garbage)
        do {
            _ = try ImageCodec.decode(contentsOfFile: garbage)
            Issue.record("garbage decoded")
        } catch {
            #expect(error.kind == .unknownFormat)
            #expect(error.description.contains(garbage))
        }

        let image = Self.noiseImage(width: 9, height: 4, seed: 3)
        let good = directory.appendingPathComponent("good.png").path
        try ImageCodec.writeFile(try PNGCodec.encode(image), to: good)
        #expect(try ImageCodec.decode(contentsOfFile: good) == image)
        // Truncating the file on disk gives an error that names it.
        let bytes = try PNGCodec.encode(image)
        try ImageCodec.writeFile(Array(bytes[0..<(bytes.count / 2)]), to: good)
        do {
            _ = try ImageCodec.decode(contentsOfFile: good)
            Issue.record("truncated file decoded")
        } catch {
            #expect(error.kind == .truncated)
            #expect(error.format == .png)
            #expect(error.description.contains(good))
        }
    }

    @Test func formatDetection() {
        #expect(ImageFormat.detect([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0]) == .png)
        #expect(ImageFormat.detect([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A]) == nil)
        #expect(ImageFormat.detect([0xFF, 0xD8, 0xFF, 0xE0]) == .jpeg)
        #expect(ImageFormat.detect([0xFF, 0xD8]) == nil)
        #expect(ImageFormat.detect(Array("GIF89a".utf8)) == nil)
    }
}
