import Testing
@testable import ConaclipTensor

@Suite("PatchEmbedding")
struct PatchEmbeddingTests {
    @Test func im2colLaysOutPatchesInConvWeightOrder() {
        let batch = 2, channels = 3, size = 6, patch = 3, grid = 2
        // Each pixel encodes its own coordinates so every placement is checkable.
        var images: [Float] = []
        for b in 0..<batch { for c in 0..<channels { for y in 0..<size { for x in 0..<size {
            images.append(Float(b * 1000 + c * 100 + y * 10 + x))
        } } } }
        let rowLength = channels * patch * patch
        let out = FloatBuffer(count: batch * grid * grid * rowLength), ib = buffer(images)
        PatchEmbedding.im2col(images: ib.pointer, batch: batch, channels: channels, size: size, patch: patch, out: out.pointer)
        var expected: [Float] = []
        for b in 0..<batch { for gy in 0..<grid { for gx in 0..<grid {
            for c in 0..<channels { for ky in 0..<patch { for kx in 0..<patch {
                expected.append(Float(b * 1000 + c * 100 + (gy * patch + ky) * 10 + gx * patch + kx))
            } } }
        } } }
        #expect(out.array == expected)
    }

    @Test func im2colThenLinearEqualsConvolution() {
        // A bias-free Conv2d(kernel = stride = patch) computed directly.
        let batch = 1, channels = 3, size = 8, patch = 4, grid = 2, width = 5
        var rng = SplitMix64(seed: 50)
        let images = rng.array(batch * channels * size * size), weight = rng.array(width * channels * patch * patch)
        let k = channels * patch * patch
        let cols = FloatBuffer(count: batch * grid * grid * k), out = FloatBuffer(count: batch * grid * grid * width)
        let ib = buffer(images), wb = buffer(weight)
        PatchEmbedding.im2col(images: ib.pointer, batch: batch, channels: channels, size: size, patch: patch, out: cols.pointer)
        Linear.forward(x: cols.pointer, rows: batch * grid * grid, inFeatures: k, outFeatures: width,
                       weight: wb.pointer, bias: nil, y: out.pointer)
        var conv: [Double] = []
        for gy in 0..<grid { for gx in 0..<grid { for o in 0..<width {
            var s = 0.0
            for c in 0..<channels { for ky in 0..<patch { for kx in 0..<patch {
                let pixel = images[(c * size + gy * patch + ky) * size + gx * patch + kx]
                s += Double(pixel) * Double(weight[((o * channels + c) * patch + ky) * patch + kx])
            } } }
            conv.append(s)
        } } }
        expectClose(out.array, conv, rtol: 1e-5, atol: 1e-5, "conv")
    }
}
