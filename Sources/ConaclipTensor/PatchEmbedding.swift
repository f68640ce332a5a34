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
        preconditionFailure("PatchEmbedding.im2col: not implemented")
    }
}
