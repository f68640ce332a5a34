import Foundation
@testable import ConaclipData

/// The committed image fixture written by Tests/Reference/make_image_fixture.py
/// (Pillow / Hugging Face reference values), loaded by path so the test
/// target needs no resources.
struct ImageFixture: Decodable {
    struct PNGCase: Decodable {
        var file: String
        var width: Int
        var height: Int
        var color_type: Int
        var bit_depth: Int
        var interlaced: Bool
        var rgb: String
        var note: String?
    }

    struct JPEGCase: Decodable {
        var file: String
        var width: Int
        var height: Int
        var mode: String
        var progressive: Bool
        var rgb: String
    }

    struct PreprocessCase: Decodable {
        var name: String
        var width: Int
        var height: Int
        var seed: Int
        var size: Int
        var crop: Int
        var resized_width: Int
        var resized_height: Int
        var resized_fnv1a64: String
        var crop_chw_fnv1a64: String
        var pixel_values_sum: Double
        var resized_rgb: String?
        var crop_chw: String?
        var crop_chw_stride: Int?
        var crop_chw_sample: String?
    }

    var png: [PNGCase]
    var jpeg: [JPEGCase]
    var preprocess: [PreprocessCase]
    var normalization_table: String

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func load() throws -> ImageFixture {
        let data = try Data(contentsOf: directory.appendingPathComponent("image_fixture.json"))
        return try JSONDecoder().decode(ImageFixture.self, from: data)
    }

    static func path(_ file: String) -> String {
        directory.appendingPathComponent(file).path
    }

    static func bytes(_ base64: String) -> [UInt8] {
        [UInt8](Data(base64Encoded: base64) ?? Data())
    }

    static func floats(_ base64: String) -> [Float] {
        let raw = bytes(base64)
        return stride(from: 0, to: raw.count - 3, by: 4).map { i in
            Float(bitPattern: UInt32(raw[i]) | UInt32(raw[i + 1]) << 8 | UInt32(raw[i + 2]) << 16 | UInt32(raw[i + 3]) << 24)
        }
    }

    /// FNV-1a 64, as the script computes it, in lowercase hex.
    static func fnv1a64(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The script's `pattern(width, height, seed)`: a wrapping ramp plus hash noise.
    static func pattern(width: Int, height: Int, seed: Int) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 {
                    var h = UInt32(truncatingIfNeeded: x) &* 374_761_393
                        &+ UInt32(truncatingIfNeeded: y) &* 668_265_263
                        &+ UInt32(truncatingIfNeeded: c) &* 2_246_822_519
                        &+ UInt32(truncatingIfNeeded: seed) &* 3_266_489_917
                    h = (h ^ (h >> 15)) &* 2_246_822_519
                    h ^= h >> 13
                    let noise = Int(h & 0xFF)
                    let smooth = (x * 509 / width + y * 251 / height + 60 * c) % 256
                    pixels[(y * width + x) * 3 + c] = UInt8((3 * smooth + noise) / 4)
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}
