import CJPEG

/// JPEG decoding through libjpeg(-turbo): baseline, progressive and
/// arithmetic-coded files; YCbCr, RGB and greyscale decode to RGB, CMYK and
/// YCCK are converted with Pillow's formula. Uses libjpeg's default (accurate
/// integer) IDCT and fancy upsampling, as Pillow does.
public enum JPEGCodec {
    /// The JPEG header: size and colour layout of the stored image.
    public struct Header: Sendable, Equatable {
        public var width: Int
        public var height: Int
        /// Number of colour components in the file (1, 3 or 4).
        public var components: Int
        /// True for progressive (multi-scan) files.
        public var progressive: Bool
        /// True for CMYK or YCCK files, which are converted to RGB.
        public var isCMYK: Bool
    }

    /// Reads only the header (cheap; no pixel memory is allocated).
    public static func readHeader(_ bytes: UnsafeRawBufferPointer,
                                  maxDimension: Int = ImageCodec.defaultMaxDimension) throws(ImageCodecError) -> Header {
        var result = conaclip_jpeg_result()
        run(bytes, maxDimension: maxDimension, out: nil, outSize: 0, result: &result)
        try check(result, maxDimension: maxDimension)
        let space = J_COLOR_SPACE(rawValue: UInt32(bitPattern: result.color_space))
        return Header(width: Int(result.width), height: Int(result.height), components: Int(result.components),
                      progressive: result.progressive != 0, isCMYK: space == JCS_CMYK || space == JCS_YCCK)
    }

    /// Decodes JPEG bytes to RGB.
    public static func decode(_ bytes: UnsafeRawBufferPointer,
                              maxDimension: Int = ImageCodec.defaultMaxDimension) throws(ImageCodecError) -> RGBImage {
        guard ImageFormat.detect(bytes) == .jpeg else {
            throw ImageCodecError(.unknownFormat, detail: "missing the JPEG start-of-image marker")
        }
        let header = try readHeader(bytes, maxDimension: maxDimension)
        let count = header.width * header.height * 3
        var failure: ImageCodecError?
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            guard let base = buffer.baseAddress else { initialized = 0; return }
            var result = conaclip_jpeg_result()
            run(bytes, maxDimension: maxDimension, out: base, outSize: count, result: &result)
            do throws(ImageCodecError) {
                try check(result, maxDimension: maxDimension)
                initialized = count
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return RGBImage(width: header.width, height: header.height, pixels: pixels)
    }

    /// Decodes JPEG bytes to RGB.
    public static func decode(_ bytes: [UInt8],
                              maxDimension: Int = ImageCodec.defaultMaxDimension) throws(ImageCodecError) -> RGBImage {
        let result: Result<RGBImage, ImageCodecError> = bytes.withUnsafeBytes { raw in
            do throws(ImageCodecError) { return .success(try decode(raw, maxDimension: maxDimension)) }
            catch { return .failure(error) }
        }
        return try result.get()
    }

    private static func run(_ bytes: UnsafeRawBufferPointer, maxDimension: Int,
                            out: UnsafeMutablePointer<UInt8>?, outSize: Int,
                            result: inout conaclip_jpeg_result) {
        let limit = UInt32(clamping: max(0, maxDimension))
        if let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) {
            conaclip_jpeg_decode_rgb8(base, bytes.count, limit, out, outSize, &result)
        } else {
            var empty: UInt8 = 0
            conaclip_jpeg_decode_rgb8(&empty, 0, limit, out, outSize, &result)
        }
    }

    private static func check(_ result: conaclip_jpeg_result, maxDimension: Int) throws(ImageCodecError) {
        guard Int(result.status) != Int(CONACLIP_JPEG_OK) else { return }
        let kind = ImageCodecError.Kind.fromHelperStatus(result.status, width: result.width,
                                                         height: result.height, limit: maxDimension)
        var copy = result
        let message = withUnsafeBytes(of: &copy.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        throw ImageCodecError(kind, format: .jpeg, detail: message)
    }
}
