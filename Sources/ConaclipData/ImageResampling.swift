/// Resizing of `RGBImage`s that reproduces Pillow's `Image.resize(...,
/// resample=BICUBIC)` byte for byte, because Hugging Face's CLIP preprocessing
/// resizes with Pillow.
///
/// It follows Pillow's `Resample.c`: a separable convolution (horizontal pass
/// first, then vertical), the bicubic kernel with a = -0.5 and support 2 that
/// is widened by the downscale factor (antialiasing), coefficients normalised
/// in double precision and rounded to 22-bit fixed point, integer accumulation
/// starting at one half, and 8-bit output clipped to 0...255. A pass whose size
/// does not change is skipped, as in Pillow, so same-size resizing is the
/// identity.
public enum ImageResampling {
    /// Resizes the whole image to `width` x `height`.
    public static func resizeBicubic(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        var workspace = ResamplingWorkspace()
        return resizeBicubic(image, width: width, height: height, workspace: &workspace)
    }

    /// Resizes the whole image, reusing `workspace` for scratch memory.
    public static func resizeBicubic(_ image: RGBImage, width: Int, height: Int,
                                     workspace: inout ResamplingWorkspace) -> RGBImage {
        precondition(width > 0 && height > 0, "resize target must be positive, got \(width)x\(height)")
        if width == image.width && height == image.height { return image }
        let pixels = [UInt8](unsafeUninitializedCapacity: width * height * 3) { buffer, initialized in
            guard let base = buffer.baseAddress else { initialized = 0; return }
            resizeBicubic(image, width: width, height: height, columns: 0..<width, rows: 0..<height,
                          workspace: &workspace, into: base)
            initialized = width * height * 3
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Computes only the pixels of the `width` x `height` resize that fall in
    /// `columns` x `rows` (output coordinates) and writes them as packed RGB,
    /// `columns.count * 3` bytes a row, into `output`. Each output pixel is
    /// exactly the one a full resize would produce; this is how centre
    /// cropping avoids resizing pixels it then throws away.
    public static func resizeBicubic(_ image: RGBImage, width outWidth: Int, height outHeight: Int,
                                     columns: Range<Int>, rows: Range<Int>,
                                     workspace: inout ResamplingWorkspace,
                                     into output: UnsafeMutablePointer<UInt8>) {
        precondition(outWidth > 0 && outHeight > 0, "resize target must be positive, got \(outWidth)x\(outHeight)")
        precondition(columns.lowerBound >= 0 && columns.upperBound <= outWidth
                     && rows.lowerBound >= 0 && rows.upperBound <= outHeight,
                     "window \(columns) x \(rows) outside \(outWidth)x\(outHeight)")
        if columns.isEmpty || rows.isEmpty { return }
        let inWidth = image.width, inHeight = image.height
        let needHorizontal = outWidth != inWidth
        let needVertical = outHeight != inHeight
        let outStride = columns.count * 3

        image.pixels.withUnsafeBufferPointer { source in
            guard let src = source.baseAddress else { return }
            let srcStride = inWidth * 3
            switch (needHorizontal, needVertical) {
            case (false, false):
                for (i, y) in rows.enumerated() {
                    (output + i * outStride).update(from: src + y * srcStride + columns.lowerBound * 3,
                                                    count: outStride)
                }
            case (true, false):
                workspace.horizontal.compute(inSize: inWidth, outSize: outWidth, range: columns)
                horizontalPass(src: src, srcStride: srcStride, srcRows: rows, filter: workspace.horizontal,
                               dst: output, dstStride: outStride)
            case (false, true):
                workspace.vertical.compute(inSize: inHeight, outSize: outHeight, range: rows)
                verticalPass(src: src + columns.lowerBound * 3, srcStride: srcStride, firstSourceRow: 0,
                             filter: workspace.vertical, width: columns.count, dst: output, dstStride: outStride,
                             accumulator: &workspace.accumulator)
            case (true, true):
                workspace.vertical.compute(inSize: inHeight, outSize: outHeight, range: rows)
                workspace.horizontal.compute(inSize: inWidth, outSize: outWidth, range: columns)
                let first = workspace.vertical.firstSourceIndex
                let last = workspace.vertical.endSourceIndex
                let tempCount = (last - first) * outStride
                if workspace.temp.count < tempCount {
                    workspace.temp = [UInt8](repeating: 0, count: tempCount)
                }
                var temp = workspace.temp
                workspace.temp = []  // hand the buffer over without copying
                temp.withUnsafeMutableBufferPointer { buffer in
                    guard let tmp = buffer.baseAddress else { return }
                    horizontalPass(src: src, srcStride: srcStride, srcRows: first..<last,
                                   filter: workspace.horizontal, dst: tmp, dstStride: outStride)
                    verticalPass(src: tmp, srcStride: outStride, firstSourceRow: first,
                                 filter: workspace.vertical, width: columns.count, dst: output, dstStride: outStride,
                                 accumulator: &workspace.accumulator)
                }
                workspace.temp = temp
            }
        }
    }

    /// Pillow's clip8: the accumulator holds value * 2^22 (plus the rounding
    /// half added up front); shift and clamp to a byte.
    @inline(__always)
    static func clip8(_ value: Int32) -> UInt8 {
        let shifted = value >> ResamplingFilter.precisionBits
        if shifted <= 0 { return 0 }
        if shifted >= 255 { return 255 }
        return UInt8(truncatingIfNeeded: shifted)
    }

    /// One horizontal pass: for each source row in `srcRows`, the output
    /// columns the filter was computed for, written to consecutive rows of `dst`.
    private static func horizontalPass(src: UnsafePointer<UInt8>, srcStride: Int, srcRows: Range<Int>,
                                       filter: ResamplingFilter, dst: UnsafeMutablePointer<UInt8>, dstStride: Int) {
        let ksize = filter.ksize
        let count = filter.count
        filter.bounds.withUnsafeBufferPointer { boundsBuffer in
            filter.weights.withUnsafeBufferPointer { weightBuffer in
                guard let bounds = boundsBuffer.baseAddress, let weights = weightBuffer.baseAddress else { return }
                for (rowIndex, y) in srcRows.enumerated() {
                    let srcRow = src + y * srcStride
                    var out = dst + rowIndex * dstStride
                    for i in 0..<count {
                        let xmin = Int(bounds[2 * i])
                        let n = Int(bounds[2 * i + 1])
                        let k = weights + i * ksize
                        var p = srcRow + xmin * 3
                        var s0 = ResamplingFilter.half, s1 = ResamplingFilter.half, s2 = ResamplingFilter.half
                        for x in 0..<n {
                            let w = k[x]
                            s0 &+= Int32(p[0]) &* w
                            s1 &+= Int32(p[1]) &* w
                            s2 &+= Int32(p[2]) &* w
                            p += 3
                        }
                        out[0] = clip8(s0)
                        out[1] = clip8(s1)
                        out[2] = clip8(s2)
                        out += 3
                    }
                }
            }
        }
    }

    /// One vertical pass over `width` pixels a row. The filter's source
    /// indices are absolute rows; `firstSourceRow` is the absolute index of
    /// the first row stored at `src`. Accumulates a whole row at a time in
    /// `accumulator` (row-major order, so the inner loop vectorises); integer
    /// sums do not depend on the order, so the result is Pillow's.
    private static func verticalPass(src: UnsafePointer<UInt8>, srcStride: Int, firstSourceRow: Int,
                                     filter: ResamplingFilter, width: Int,
                                     dst: UnsafeMutablePointer<UInt8>, dstStride: Int,
                                     accumulator: inout [Int32]) {
        let ksize = filter.ksize
        let count = filter.count
        let rowBytes = width * 3
        if accumulator.count < rowBytes { accumulator = [Int32](repeating: 0, count: rowBytes) }
        accumulator.withUnsafeMutableBufferPointer { accBuffer in
            filter.bounds.withUnsafeBufferPointer { boundsBuffer in
                filter.weights.withUnsafeBufferPointer { weightBuffer in
                    guard let acc = accBuffer.baseAddress, let bounds = boundsBuffer.baseAddress,
                          let weights = weightBuffer.baseAddress else { return }
                    for j in 0..<count {
                        let ymin = Int(bounds[2 * j]) - firstSourceRow
                        let n = Int(bounds[2 * j + 1])
                        let k = weights + j * ksize
                        acc.update(repeating: ResamplingFilter.half, count: rowBytes)
                        for y in 0..<n {
                            let w = k[y]
                            let row = src + (ymin + y) * srcStride
                            for b in 0..<rowBytes {
                                acc[b] &+= Int32(row[b]) &* w
                            }
                        }
                        let out = dst + j * dstStride
                        for b in 0..<rowBytes {
                            out[b] = clip8(acc[b])
                        }
                    }
                }
            }
        }
    }
}

/// Scratch memory reused across resize calls (filter coefficients and the
/// intermediate image of the two-pass resize), so that preprocessing a stream
/// of images stops allocating once the buffers have grown to size.
public struct ResamplingWorkspace: Sendable {
    var horizontal = ResamplingFilter()
    var vertical = ResamplingFilter()
    var temp: [UInt8] = []
    var accumulator: [Int32] = []
    /// Used by `CLIPImagePreprocessor` for the cropped 8-bit image.
    var crop: [UInt8] = []

    public init() {}
}

/// Pillow's bicubic filter coefficients for a range of output indices along
/// one axis: for each output index, the first source index, the number of
/// taps and `ksize` fixed-point weights.
struct ResamplingFilter: Sendable {
    static let precisionBits: Int32 = 22
    static let half: Int32 = 1 << 21

    private(set) var ksize = 0
    private(set) var count = 0
    /// Pairs (first source index, number of taps), one per output index.
    private(set) var bounds: [Int32] = []
    private(set) var weights: [Int32] = []
    private var scratch: [Double] = []

    /// The first source index any computed output reads.
    var firstSourceIndex: Int { count == 0 ? 0 : Int(bounds[0]) }
    /// One past the last source index any computed output reads.
    var endSourceIndex: Int { count == 0 ? 0 : Int(bounds[2 * count - 2] + bounds[2 * count - 1]) }

    /// Pillow's bicubic kernel, a = -0.5, evaluated in the same order.
    @inline(__always)
    static func bicubic(_ value: Double) -> Double {
        let a = -0.5
        let x = value < 0 ? -value : value
        if x < 1.0 { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1 }
        if x < 2.0 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0.0
    }

    /// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the output
    /// indices in `range` of a resize from `inSize` to `outSize` samples.
    mutating func compute(inSize: Int, outSize: Int, range: Range<Int>) {
        // Pillow: scale = (double)(in1 - in0) / outSize with float box bounds.
        let scale = Double(Float(inSize)) / Double(outSize)
        let filterScale = scale < 1.0 ? 1.0 : scale
        let support = 2.0 * filterScale
        ksize = Int(support.rounded(.up)) * 2 + 1
        count = range.count
        if bounds.count < 2 * count { bounds = [Int32](repeating: 0, count: 2 * count) }
        if weights.count < ksize * count { weights = [Int32](repeating: 0, count: ksize * count) }
        if scratch.count < ksize { scratch = [Double](repeating: 0, count: ksize) }
        let ss = 1.0 / filterScale
        let one = Double(Int32(1) << ResamplingFilter.precisionBits)
        for (i, xx) in range.enumerated() {
            let center = (Double(xx) + 0.5) * scale
            var xmin = Int(center - support + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            precondition(xmax >= 0 && xmax <= ksize, "resampling taps out of range")
            var ww = 0.0
            for x in 0..<xmax {
                let w = ResamplingFilter.bicubic((Double(x + xmin) - center + 0.5) * ss)
                scratch[x] = w
                ww += w
            }
            let base = i * ksize
            for x in 0..<xmax {
                var v = scratch[x]
                if ww != 0.0 { v /= ww }
                weights[base + x] = v < 0 ? Int32(-0.5 + v * one) : Int32(0.5 + v * one)
            }
            for x in xmax..<ksize { weights[base + x] = 0 }
            bounds[2 * i] = Int32(xmin)
            bounds[2 * i + 1] = Int32(xmax)
        }
    }
}
