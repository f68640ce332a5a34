/// Conveniences on `RGBImage` (defined in ConaclipNative next to the codecs):
/// loading, saving, resizing, cropping and pasting.
extension RGBImage {
    /// Decodes a PNG or JPEG file; errors name the file.
    public init(contentsOfFile path: String,
                maxDimension: Int = ImageCodec.defaultMaxDimension) throws(ImageCodecError) {
        self = try ImageCodec.decode(contentsOfFile: path, maxDimension: maxDimension)
    }

    /// The image as 8-bit RGB PNG bytes (deterministic).
    public func pngData() throws(ImageCodecError) -> [UInt8] {
        try PNGCodec.encode(self)
    }

    /// Writes the image as an 8-bit RGB PNG file (atomically).
    public func writePNG(toFile path: String) throws(ImageCodecError) {
        try ImageCodec.writeFile(try PNGCodec.encode(self), to: path)
    }

    /// The image resized with Pillow's bicubic filter (see `ImageResampling`).
    public func resized(width: Int, height: Int) -> RGBImage {
        ImageResampling.resizeBicubic(self, width: width, height: height)
    }

    /// The image scaled so that it fits in `maxSide` x `maxSide`, keeping the
    /// aspect ratio (sides rounded, at least 1). Images that already fit are
    /// returned unchanged.
    public func fitted(within maxSide: Int) -> RGBImage {
        precondition(maxSide > 0, "maxSide must be positive")
        if width <= maxSide && height <= maxSide { return self }
        let scale = Double(maxSide) / Double(max(width, height))
        let w = min(maxSide, max(1, Int((Double(width) * scale).rounded())))
        let h = min(maxSide, max(1, Int((Double(height) * scale).rounded())))
        return resized(width: w, height: h)
    }

    /// The sub-image with top-left corner (`x`, `y`); it must lie inside the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> RGBImage {
        precondition(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= width && y + h <= height,
                     "crop \(w)x\(h) at (\(x), \(y)) outside \(width)x\(height)")
        var bytes = [UInt8]()
        bytes.reserveCapacity(w * h * 3)
        for row in y..<(y + h) {
            let start = (row * width + x) * 3
            bytes.append(contentsOf: pixels[start..<(start + w * 3)])
        }
        return RGBImage(width: w, height: h, pixels: bytes)
    }

    /// Copies `image` onto this one with its top-left corner at (`x`, `y`);
    /// parts falling outside are clipped.
    public mutating func paste(_ image: RGBImage, x: Int, y: Int) {
        let x0 = max(0, x), y0 = max(0, y)
        let x1 = min(width, x + image.width), y1 = min(height, y + image.height)
        guard x0 < x1 && y0 < y1 else { return }
        let rowBytes = (x1 - x0) * 3
        let destinationWidth = width
        image.pixels.withUnsafeBufferPointer { source in
            withUnsafeMutablePixels { destination in
                guard let src = source.baseAddress, let dst = destination.baseAddress else { return }
                for row in y0..<y1 {
                    let from = src + ((row - y) * image.width + (x0 - x)) * 3
                    (dst + (row * destinationWidth + x0) * 3).update(from: from, count: rowBytes)
                }
            }
        }
    }
}
