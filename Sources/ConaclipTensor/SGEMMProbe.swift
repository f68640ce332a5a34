import ConaclipNative
import Foundation

/// Measures this process's single-call SGEMM speed, the peak every other
/// speed figure is compared against.
public enum SGEMMProbe {
    /// Best GFLOP/s over `repeats` square `size`x`size` products (after one warm-up).
    public static func measure(size: Int = 1024, repeats: Int = 8) -> Double {
        let n = max(16, size)
        let a = FloatBuffer(count: n * n), b = FloatBuffer(count: n * n), c = FloatBuffer(count: n * n)
        for i in 0..<(n * n) {
            a[i] = Float((i % 17) - 8) * 0.01
            b[i] = Float((i % 13) - 6) * 0.01
        }
        var best = Double.infinity
        for r in 0...max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            BLAS.gemm(transA: false, transB: false, m: n, n: n, k: n,
                      a: a.pointer, lda: n, b: b.pointer, ldb: n, c: c.pointer, ldc: n)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if r > 0 { best = min(best, seconds) }
        }
        return 2 * Double(n) * Double(n) * Double(n) / best / 1e9
    }
}
