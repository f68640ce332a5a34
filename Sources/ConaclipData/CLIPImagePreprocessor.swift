/// Why a preprocessor configuration was refused.
public enum ImagePreprocessingError: Error, Equatable, CustomStringConvertible {
    case invalidSize(name: String, value: Int)
    case invalidChannelStatistics(String)

    public var description: String {
        switch self {
        case let .invalidSize(name, value):
            return "image preprocessing \(name) must be between 1 and \(ImageCodec.defaultMaxDimension), got \(value)"
        case let .invalidChannelStatistics(message):
            return "image preprocessing mean/std: \(message)"
        }
    }
}

/// Turns decoded images into CLIP pixel values exactly as Hugging Face's
/// `CLIPImageProcessor` does with its defaults (the PIL backend): resize so
/// the shortest side is `size` with Pillow's bicubic filter (the longer side
/// is `int(size * long / short)`), centre crop to `cropSize` x `cropSize`
/// (offsets `(resized - crop) // 2`, zero padding when the image is smaller),
/// rescale by 1/255 in double precision, cast to float32, then subtract the
/// mean and divide by the std in float32. Output is CHW float32, one
/// `[3, cropSize, cropSize]` block per image.
///
/// Images arrive already in RGB with any transparency composited onto white,
/// which is what `ImageCodec` returns and what Hugging Face's `convert_to_rgb`
/// does.
public struct CLIPImagePreprocessor: Sendable {
    /// OpenAI CLIP's channel means.
    public static let clipMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    /// OpenAI CLIP's channel standard deviations.
    public static let clipStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// Target length of the shortest side after resizing.
    public let size: Int
    /// Side of the square centre crop, i.e. the model's image size.
    public let cropSize: Int
    public let mean: [Float]
    public let std: [Float]
    /// `table[c * 256 + v]` is the normalised value of byte `v` in channel `c`.
    private let table: [Float]

    /// Floats written per image: `3 * cropSize * cropSize`.
    public var valuesPerImage: Int { 3 * cropSize * cropSize }

    public init(size: Int = 224, cropSize: Int = 224,
                mean: [Float] = CLIPImagePreprocessor.clipMean,
                std: [Float] = CLIPImagePreprocessor.clipStd) throws(ImagePreprocessingError) {
        let limit = ImageCodec.defaultMaxDimension
        guard size >= 1 && size <= limit else { throw .invalidSize(name: "size", value: size) }
        guard cropSize >= 1 && cropSize <= limit else { throw .invalidSize(name: "crop size", value: cropSize) }
        guard mean.count == 3, std.count == 3 else {
            throw .invalidChannelStatistics("need 3 values each, got \(mean.count) and \(std.count)")
        }
        guard mean.allSatisfy({ $0.isFinite }), std.allSatisfy({ $0.isFinite && $0 != 0 }) else {
            throw .invalidChannelStatistics("values must be finite and std non-zero, got \(mean) and \(std)")
        }
        self.size = size
        self.cropSize = cropSize
        self.mean = mean
        self.std = std
        var table = [Float](repeating: 0, count: 3 * 256)
        for c in 0..<3 {
            for v in 0..<256 {
                // numpy: (uint8 as float64 * (1/255)).astype(float32), then float32 (x - mean) / std.
                let rescaled = Float(Double(v) * (1.0 / 255.0))
                table[c * 256 + v] = (rescaled - mean[c]) / std[c]
            }
        }
        self.table = table
    }

    /// The size Hugging Face resizes a `width` x `height` image to.
    public func resizedSize(width: Int, height: Int) -> (width: Int, height: Int) {
        let short = min(width, height), long = max(width, height)
        let newLong = Int(Double(size * long) / Double(short))
        return width <= height ? (size, newLong) : (newLong, size)
    }

    /// The normalised value of byte `value` in `channel` (0 red, 1 green, 2 blue).
    public func normalized(_ value: UInt8, channel: Int) -> Float {
        table[channel * 256 + Int(value)]
    }

    /// The 8-bit `cropSize` x `cropSize` image the model sees, before
    /// rescaling and normalisation (padding, if any, is black).
    public func croppedImage(_ image: RGBImage, workspace: inout ResamplingWorkspace) -> RGBImage {
        renderCrop(image, workspace: &workspace)
        return RGBImage(width: cropSize, height: cropSize, pixels: Array(workspace.crop[0..<(cropSize * cropSize * 3)]))
    }

    /// Preprocesses one image into `output`, which must hold at least
    /// `valuesPerImage` floats (CHW). Allocates nothing once `workspace` has
    /// grown to the sizes involved.
    public func preprocess(_ image: RGBImage, into output: UnsafeMutableBufferPointer<Float>,
                           workspace: inout ResamplingWorkspace) {
        precondition(output.count >= valuesPerImage,
                     "output holds \(output.count) floats, need \(valuesPerImage)")
        guard let out = output.baseAddress else { return }
        renderCrop(image, workspace: &workspace)
        let plane = cropSize * cropSize
        workspace.crop.withUnsafeBufferPointer { cropBuffer in
            table.withUnsafeBufferPointer { tableBuffer in
                guard let crop = cropBuffer.baseAddress, let lut = tableBuffer.baseAddress else { return }
                for c in 0..<3 {
                    let channelTable = lut + c * 256
                    let dst = out + c * plane
                    for i in 0..<plane {
                        dst[i] = channelTable[Int(crop[3 * i + c])]
                    }
                }
            }
        }
    }

    /// Preprocesses a batch into `output`, image `i` at offset
    /// `i * valuesPerImage`; `output` must hold `images.count * valuesPerImage` floats.
    public func preprocess(_ images: [RGBImage], into output: UnsafeMutableBufferPointer<Float>,
                           workspace: inout ResamplingWorkspace) {
        precondition(output.count >= images.count * valuesPerImage,
                     "output holds \(output.count) floats, need \(images.count * valuesPerImage)")
        guard let base = output.baseAddress else { return }
        for (i, image) in images.enumerated() {
            let slice = UnsafeMutableBufferPointer(start: base + i * valuesPerImage, count: valuesPerImage)
            preprocess(image, into: slice, workspace: &workspace)
        }
    }

    /// Preprocesses a batch into a new array (`images.count * valuesPerImage` floats, NCHW).
    public func preprocess(_ images: [RGBImage]) -> [Float] {
        var workspace = ResamplingWorkspace()
        var result = [Float](repeating: 0, count: images.count * valuesPerImage)
        result.withUnsafeMutableBufferPointer { preprocess(images, into: $0, workspace: &workspace) }
        return result
    }

    /// Resizes and centre-crops into `workspace.crop` (packed RGB, cropSize^2 pixels).
    private func renderCrop(_ image: RGBImage, workspace: inout ResamplingWorkspace) {
        let (rw, rh) = resizedSize(width: image.width, height: image.height)
        let top = floorHalf(rh - cropSize)
        let left = floorHalf(rw - cropSize)
        // Rows and columns of the resized image that land inside the crop.
        let rows = max(0, top)..<min(rh, top + cropSize)
        let columns = max(0, left)..<min(rw, left + cropSize)
        let cropBytes = cropSize * cropSize * 3
        if workspace.crop.count < cropBytes {
            workspace.crop = [UInt8](repeating: 0, count: cropBytes)
        }
        let padded = rows.count != cropSize || columns.count != cropSize
        var crop = workspace.crop
        workspace.crop = []  // hand the buffer over without copying
        crop.withUnsafeMutableBufferPointer { buffer in
            guard let dst = buffer.baseAddress else { return }
            if padded {
                // Hugging Face pads with zeros before rescaling.
                dst.update(repeating: 0, count: cropBytes)
                let window = rows.count * columns.count * 3
                if window > 0 {
                    // Only when the crop exceeds the resized image (a
                    // configuration with cropSize > size), so not worth a
                    // workspace buffer of its own.
                    var staging = [UInt8](repeating: 0, count: window)
                    staging.withUnsafeMutableBufferPointer { stage in
                        guard let st = stage.baseAddress else { return }
                        ImageResampling.resizeBicubic(image, width: rw, height: rh, columns: columns, rows: rows,
                                                      workspace: &workspace, into: st)
                        let rowOffset = rows.lowerBound - top
                        let colOffset = columns.lowerBound - left
                        for r in 0..<rows.count {
                            (dst + ((rowOffset + r) * cropSize + colOffset) * 3)
                                .update(from: st + r * columns.count * 3, count: columns.count * 3)
                        }
                    }
                }
            } else {
                ImageResampling.resizeBicubic(image, width: rw, height: rh, columns: columns, rows: rows,
                                              workspace: &workspace, into: dst)
            }
        }
        workspace.crop = crop
    }

    /// Python's `value // 2` (floor division, also for negative values).
    private func floorHalf(_ value: Int) -> Int {
        value >= 0 ? value / 2 : -((-value + 1) / 2)
    }
}
