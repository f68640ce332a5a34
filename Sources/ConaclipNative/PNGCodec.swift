import CPNG

/// PNG decoding (every colour type and bit depth, interlaced or not) and
/// 8-bit RGB encoding through libpng.
///
/// Decoding applies no gamma or colour-space conversion, matching Pillow:
/// 16-bit samples keep their high byte, 1/2/4-bit greys are scaled to 8 bits,
/// palettes and tRNS expand to RGBA, and alpha is composited onto white.
public enum PNGCodec {
    /// The PNG header: size and layout of the stored samples.
    public struct Header: Sendable, Equatable {
        public var width: Int
        public var height: Int
        /// PNG colour type (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA).
        public var colorType: Int
        public var bitDepth: Int
        public var interlaced: Bool
    }

    /// Reads only the header (cheap; no pixel memory is allocated).
    public static func readHeader(_ bytes: UnsafeRawBufferPointer,
                                  maxDimension: Int = ImageCodec.defaultMaxDimension) throws(ImageCodecError) -> Header {
        var result = conaclip_png_result()
        run(bytes, maxDimension: maxDimension, out: nil, outSize: 0, result: &result)
        try check(result, maxDimension: maxDimension)
        return Header(width: Int(result.width), height: Int(result.height), colorType: Int(result.color_type),
                      bitDepth: Int(result.bit_depth), interlaced: result.interlaced != 0)
    }

    /// Decodes PNG bytes to RGB.
    public static func decode(_ bytes: UnsafeRawBufferPointer,
                              maxDimension: Int = ImageCodec.defaultMaxDimension) throws(ImageCodecError) -> RGBImage {
        guard ImageFormat.detect(bytes) == .png else {
            throw ImageCodecError(.unknownFormat, format: nil, detail: "missing the PNG signature")
        }
        let header = try readHeader(bytes, maxDimension: maxDimension)
        let pixelCount = header.width * header.height
        var failure: ImageCodecError?
        // Decode as RGBA into the array's storage, then composite in place
        // down to RGB, so only one pixel buffer is ever allocated.
        let pixels = [UInt8](unsafeUninitializedCapacity: pixelCount * 4) { buffer, initialized in
            guard let base = buffer.baseAddress else { initialized = 0; return }
            var result = conaclip_png_result()
            run(bytes, maxDimension: maxDimension, out: base, outSize: pixelCount * 4, result: &result)
            do throws(ImageCodecError) {
                try check(result, maxDimension: maxDimension)
                compositeRGBAOntoWhiteInPlace(base, pixelCount: pixelCount)
                initialized = pixelCount * 3
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return RGBImage(width: header.width, height: header.height, pixels: pixels)
    }

    /// Decodes PNG bytes to RGB.
    public static func decode(_ bytes: [UInt8],
                              maxDimension: Int = ImageCodec.defaultMaxDimension) throws(ImageCodecError) -> RGBImage {
        let result: Result<RGBImage, ImageCodecError> = bytes.withUnsafeBytes { raw in
            do throws(ImageCodecError) { return .success(try decode(raw, maxDimension: maxDimension)) }
            catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Encodes an image as an 8-bit RGB PNG. The bytes depend only on the
    /// pixels (and the libpng / zlib versions), so repeated runs are identical.
    public static func encode(_ image: RGBImage) throws(ImageCodecError) -> [UInt8] {
        var png = png_image()
        png.version = png_uint_32(PNG_IMAGE_VERSION)
        png.width = png_uint_32(image.width)
        png.height = png_uint_32(image.height)
        png.format = png_uint_32(PNG_FORMAT_RGB)
        let stride = png_int_32(image.width * 3)
        var size: png_alloc_size_t = 0
        let sized = image.pixels.withUnsafeBytes { raw in
            png_image_write_to_memory(&png, nil, &size, 0, raw.baseAddress, stride, nil)
        }
        guard sized != 0, size > 0 else {
            let message = imageMessage(&png)
            png_image_free(&png)
            throw ImageCodecError(.encodingFailed, format: .png, detail: message)
        }
        var written = size
        var ok: Int32 = 0
        let out = [UInt8](unsafeUninitializedCapacity: Int(size)) { buffer, initialized in
            ok = image.pixels.withUnsafeBytes { raw in
                png_image_write_to_memory(&png, buffer.baseAddress, &written, 0, raw.baseAddress, stride, nil)
            }
            initialized = ok != 0 ? Int(written) : 0
        }
        if ok == 0 {
            let message = imageMessage(&png)
            png_image_free(&png)
            throw ImageCodecError(.encodingFailed, format: .png, detail: message)
        }
        png_image_free(&png)
        return out
    }

    private static func run(_ bytes: UnsafeRawBufferPointer, maxDimension: Int,
                            out: UnsafeMutablePointer<UInt8>?, outSize: Int,
                            result: inout conaclip_png_result) {
        let limit = UInt32(clamping: max(0, maxDimension))
        let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        if base == nil {
            // An empty buffer: hand libpng a valid pointer with zero length.
            var empty: UInt8 = 0
            conaclip_png_decode_rgba8(&empty, 0, limit, out, outSize, &result)
        } else {
            conaclip_png_decode_rgba8(base, bytes.count, limit, out, outSize, &result)
        }
    }

    private static func check(_ result: conaclip_png_result, maxDimension: Int) throws(ImageCodecError) {
        guard Int(result.status) != Int(CONACLIP_PNG_OK) else { return }
        let kind = ImageCodecError.Kind.fromHelperStatus(result.status, width: result.width,
                                                         height: result.height, limit: maxDimension)
        throw ImageCodecError(kind, format: .png, detail: message(result))
    }

    private static func message(_ result: conaclip_png_result) -> String {
        var copy = result
        return withUnsafeBytes(of: &copy.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    private static func imageMessage(_ png: inout png_image) -> String {
        withUnsafeBytes(of: &png.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}
