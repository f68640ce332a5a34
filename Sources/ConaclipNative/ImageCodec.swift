import Foundation

/// An 8-bit RGB image held in memory: rows top to bottom, pixels interleaved
/// R, G, B, no padding. This is what the decoders return and what
/// preprocessing, the emoji dataset and contact sheets work on.
public struct RGBImage: Sendable, Equatable {
    /// Width in pixels (at least 1).
    public let width: Int
    /// Height in pixels (at least 1).
    public let height: Int
    /// `width * height * 3` bytes, row-major RGB.
    public private(set) var pixels: [UInt8]

    /// Wraps existing pixel bytes; `pixels.count` must be `width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "RGBImage needs positive dimensions, got \(width)x\(height)")
        precondition(pixels.count == width * height * 3,
                      "RGBImage \(width)x\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image filled with one colour (white by default).
    public init(width: Int, height: Int, red: UInt8 = 255, green: UInt8 = 255, blue: UInt8 = 255) {
        precondition(width > 0 && height > 0, "RGBImage needs positive dimensions, got \(width)x\(height)")
        var bytes = [UInt8](repeating: 0, count: width * height * 3)
        if red == green && green == blue {
            if red != 0 { bytes = [UInt8](repeating: red, count: width * height * 3) }
        } else {
            for i in 0..<(width * height) {
                bytes[3 * i] = red
                bytes[3 * i + 1] = green
                bytes[3 * i + 2] = blue
            }
        }
        self.init(width: width, height: height, pixels: bytes)
    }

    /// The pixel at column `x`, row `y`; both must be in range.
    public subscript(x: Int, y: Int) -> (red: UInt8, green: UInt8, blue: UInt8) {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)x\(height)")
            let i = (y * width + x) * 3
            return (pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)x\(height)")
            let i = (y * width + x) * 3
            pixels[i] = newValue.red
            pixels[i + 1] = newValue.green
            pixels[i + 2] = newValue.blue
        }
    }

    /// Gives mutable access to the pixel bytes without changing their count.
    public mutating func withUnsafeMutablePixels<R>(_ body: (UnsafeMutableBufferPointer<UInt8>) -> R) -> R {
        pixels.withUnsafeMutableBufferPointer { body($0) }
    }
}

/// The encoded image formats the codec understands, recognised by their magic bytes.
public enum ImageFormat: String, Sendable, Equatable, CaseIterable {
    case png
    case jpeg

    /// Identifies the format from the first bytes of the data, or nil.
    public static func detect(_ bytes: UnsafeRawBufferPointer) -> ImageFormat? {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        if bytes.count >= png.count && zip(bytes.prefix(png.count), png).allSatisfy({ $0 == $1 }) {
            return .png
        }
        if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF {
            return .jpeg
        }
        return nil
    }

    /// Identifies the format from the first bytes of the data, or nil.
    public static func detect(_ bytes: [UInt8]) -> ImageFormat? {
        bytes.withUnsafeBytes { detect($0) }
    }
}

/// Why an image could not be read, decoded or encoded. `source` names the
/// file when decoding from a path, so that a bad file in a large dataset can
/// be found and removed.
public struct ImageCodecError: Error, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Equatable, Sendable {
        /// Neither PNG nor JPEG magic bytes (or empty data).
        case unknownFormat
        /// The data ends before the image is complete.
        case truncated
        /// The data is malformed (bad chunk, bad CRC, bad marker, ...).
        case corrupt
        /// Well-formed but not something this decoder handles.
        case unsupported
        /// Larger than the configured limit on either side.
        case tooLarge(width: Int, height: Int, limit: Int)
        /// The file could not be read at all.
        case unreadable
        /// The file could not be written.
        case unwritable
        /// libpng refused to encode the image.
        case encodingFailed
    }

    public var kind: Kind
    /// The detected format, when known.
    public var format: ImageFormat?
    /// Human-readable detail from the library or the check that failed.
    public var detail: String
    /// The file the data came from, when decoding from a path.
    public var source: String?

    public init(_ kind: Kind, format: ImageFormat? = nil, detail: String = "", source: String? = nil) {
        self.kind = kind
        self.format = format
        self.detail = detail
        self.source = source
    }

    /// The same error attributed to a file.
    public func from(source path: String) -> ImageCodecError {
        var copy = self
        copy.source = path
        return copy
    }

    public var description: String {
        let what = source.map { "image file \($0)" } ?? "image data"
        let fmt = format.map { " (\($0.rawValue.uppercased()))" } ?? ""
        let extra = detail.isEmpty ? "" : ": \(detail)"
        switch kind {
        case .unknownFormat:
            return "\(what) is neither PNG nor JPEG\(extra)"
        case .truncated:
            return "\(what)\(fmt) is truncated\(extra); re-download or remove it"
        case .corrupt:
            return "\(what)\(fmt) is corrupt\(extra); re-download or remove it"
        case .unsupported:
            return "\(what)\(fmt) uses an unsupported feature\(extra); convert it to 8-bit RGB PNG or JPEG"
        case let .tooLarge(width, height, limit):
            return "\(what)\(fmt) is \(width)x\(height) pixels, above the limit of \(limit) on either side; downscale it first"
        case .unreadable:
            return "cannot read \(what)\(extra)"
        case .unwritable:
            return "cannot write \(what)\(extra)"
        case .encodingFailed:
            return "cannot encode \(what)\(fmt)\(extra)"
        }
    }
}

/// Decodes PNG and JPEG data (detected by magic bytes) into `RGBImage`s.
/// Transparent pixels are composited onto white.
public enum ImageCodec {
    /// The default limit on width and height; larger images are refused
    /// before any pixel memory is allocated.
    public static let defaultMaxDimension = 16384

    /// Decodes PNG or JPEG bytes.
    public static func decode(_ bytes: UnsafeRawBufferPointer,
                              maxDimension: Int = defaultMaxDimension) throws(ImageCodecError) -> RGBImage {
        switch ImageFormat.detect(bytes) {
        case .png: return try PNGCodec.decode(bytes, maxDimension: maxDimension)
        case .jpeg: return try JPEGCodec.decode(bytes, maxDimension: maxDimension)
        case nil:
            throw ImageCodecError(.unknownFormat, detail: bytes.isEmpty ? "no data" : "unrecognised leading bytes")
        }
    }

    /// Decodes PNG or JPEG bytes.
    public static func decode(_ bytes: [UInt8],
                              maxDimension: Int = defaultMaxDimension) throws(ImageCodecError) -> RGBImage {
        let result: Result<RGBImage, ImageCodecError> = bytes.withUnsafeBytes { raw in
            do throws(ImageCodecError) { return .success(try decode(raw, maxDimension: maxDimension)) }
            catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Reads and decodes a file; errors name the file.
    public static func decode(contentsOfFile path: String,
                              maxDimension: Int = defaultMaxDimension) throws(ImageCodecError) -> RGBImage {
        let bytes = try readFile(path)
        do {
            return try decode(bytes, maxDimension: maxDimension)
        } catch {
            throw error.from(source: path)
        }
    }

    /// Writes bytes to a file atomically (a temporary file in the same
    /// directory, then rename), so a crash never leaves half an image behind.
    public static func writeFile(_ bytes: [UInt8], to path: String) throws(ImageCodecError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd < 0 {
            throw ImageCodecError(.unwritable, detail: String(cString: strerror(errno)), source: path)
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return write(fd, base + offset, raw.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                let message = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                throw ImageCodecError(.unwritable, detail: message, source: path)
            }
            offset += n
        }
        if close(fd) != 0 || rename(temporary, path) != 0 {
            let message = String(cString: strerror(errno))
            unlink(temporary)
            throw ImageCodecError(.unwritable, detail: message, source: path)
        }
    }

    /// Reads a whole file into memory, reporting errno as a readable message.
    public static func readFile(_ path: String) throws(ImageCodecError) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            throw ImageCodecError(.unreadable, detail: String(cString: strerror(errno)), source: path)
        }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) != 0 {
            throw ImageCodecError(.unreadable, detail: String(cString: strerror(errno)), source: path)
        }
        if (info.st_mode & S_IFMT) != S_IFREG {
            throw ImageCodecError(.unreadable, detail: "not a regular file", source: path)
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageCodecError(.unreadable, detail: String(cString: strerror(errno)), source: path)
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes
    }
}

extension ImageCodecError.Kind {
    /// Maps the C helpers' status codes (the two shims number them alike:
    /// 1 corrupt, 2 truncated, 3 too large, 4 bad buffer, 5 unsupported).
    static func fromHelperStatus(_ status: Int32, width: UInt32, height: UInt32, limit: Int) -> ImageCodecError.Kind {
        switch Int(status) {
        case 2: return .truncated
        case 3: return .tooLarge(width: Int(width), height: Int(height), limit: limit)
        case 5: return .unsupported
        default: return .corrupt
        }
    }
}

/// Composites interleaved RGBA onto opaque white in place, leaving
/// `pixelCount` RGB pixels at the start of the buffer. This is exactly Pillow's
/// `Image.alpha_composite(white, image)` (7-bit fixed point, rounded divide
/// by 255), which Hugging Face's `convert_to_rgb` uses for images with
/// transparency; Tests/Reference/make_image_fixture.py checks the formula
/// against Pillow for every colour and alpha value.
func compositeRGBAOntoWhiteInPlace(_ buffer: UnsafeMutablePointer<UInt8>, pixelCount: Int) {
    for i in 0..<pixelCount {
        let src = buffer + 4 * i
        let dst = buffer + 3 * i
        let a = UInt32(src[3])
        let r = UInt32(src[0]), g = UInt32(src[1]), b = UInt32(src[2])
        if a == 255 {
            dst[0] = UInt8(r); dst[1] = UInt8(g); dst[2] = UInt8(b)
        } else if a == 0 {
            dst[0] = 255; dst[1] = 255; dst[2] = 255
        } else {
            let back = 255 * (255 - a)
            dst[0] = blendOntoWhite(r, a, back)
            dst[1] = blendOntoWhite(g, a, back)
            dst[2] = blendOntoWhite(b, a, back)
        }
    }
}

@inline(__always)
private func blendOntoWhite(_ c: UInt32, _ a: UInt32, _ back: UInt32) -> UInt8 {
    let t = 128 * (c * a + back) + (0x80 << 7)
    return UInt8(truncatingIfNeeded: (((t >> 8) + t) >> 8) >> 7)
}
