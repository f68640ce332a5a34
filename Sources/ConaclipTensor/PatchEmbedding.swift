/// ViT patch embedding (a bias-free Conv2d with kernel = stride = patch) as a
/// matrix product: `im2col` lays out the patches, then `Linear` with the conv
/// weight viewed as `[width, channels * patch * patch]` does the rest.
public enum PatchEmbedding {
    /// Images `[batch, channels, size, size]` (NCHW) to patch rows
    /// `[batch * gridSize * gridSize, channels * patch * patch]`, patches in
    /// row-major grid order, each row in (channel, ky, kx) order (the order of
    /// a flattened Conv2d weight). `size` must be a multiple of `patch`.
    public static func im2col(
        images: UnsafePointer<Float>, batch: Int, channels: Int, size: Int, patch: Int,
        out: UnsafeMutablePointer<Float>
    ) {
        precondition(patch > 0 && size % patch == 0, "PatchEmbedding: size \(size) is not a multiple of patch \(patch)")
        let grid = size / patch
        let rowLength = channels * patch * patch
        for b in 0..<batch {
            let image = images + b * channels * size * size
            for gy in 0..<grid {
                for gx in 0..<grid {
                    var dst = out + ((b * grid + gy) * grid + gx) * rowLength
                    for c in 0..<channels {
                        var src = image + (c * size + gy * patch) * size + gx * patch
                        for _ in 0..<patch {
                            dst.update(from: src, count: patch)
                            dst += patch
                            src += size
                        }
                    }
                }
            }
        }
    }
}
