import COpenBLAS

/// Thin, typed access to the OpenBLAS routines the tensor engine needs.
///
/// Everything is row-major and single precision. Callers pass raw pointers so
/// that the hot path never allocates; the shapes are checked by the callers.
public enum BLAS {
    /// `C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C`, row-major.
    ///
    /// `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored (so for
    /// `transA == false`, `lda >= k`; for `transA == true`, `lda >= m`).
    @inlinable
    public static func gemm(
        transA: Bool, transB: Bool,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS would only scale C; do it here so callers can rely on it.
            for i in 0..<m {
                let row = c + i * ldc
                for j in 0..<n { row[j] = beta == 0 ? 0 : beta * row[j] }
            }
            return
        }
        cblas_sgemm(
            CblasRowMajor,
            transA ? CblasTrans : CblasNoTrans,
            transB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k),
            alpha, a, blasint(lda), b, blasint(ldb),
            beta, c, blasint(ldc))
    }

    /// `y = alpha * x + y` over `count` contiguous floats.
    @inlinable
    public static func axpy(count: Int, alpha: Float, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        if count == 0 { return }
        cblas_saxpy(blasint(count), alpha, x, 1, y, 1)
    }

    /// Dot product of two contiguous vectors.
    @inlinable
    public static func dot(count: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
        if count == 0 { return 0 }
        return cblas_sdot(blasint(count), x, 1, y, 1)
    }

    /// The kernel family OpenBLAS chose at start-up (for example "SkylakeX").
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// OpenBLAS's build configuration string.
    public static var configuration: String {
        guard let config = openblas_get_config() else { return "unknown" }
        return String(cString: config)
    }

    /// Number of threads OpenBLAS uses for one call.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// Sets the number of threads OpenBLAS uses for one call (at least 1).
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }
}
