import Foundation

/// A strided view of an n x n float matrix, so that a kernel written over rows
/// also runs over the columns of the same storage (the transposed view) with
/// no copy.
struct MatrixView {
    let base: UnsafeMutablePointer<Float>
    let rowStride: Int
    let colStride: Int

    /// A row-major matrix with `n` columns.
    init(_ base: UnsafeMutablePointer<Float>, n: Int) {
        self.base = base
        rowStride = n
        colStride = 1
    }

    private init(base: UnsafeMutablePointer<Float>, rowStride: Int, colStride: Int) {
        self.base = base
        self.rowStride = rowStride
        self.colStride = colStride
    }

    /// The same storage read as the transpose.
    var transposed: MatrixView { MatrixView(base: base, rowStride: colStride, colStride: rowStride) }

    /// The transpose when `flag` is set, else `self`.
    func transposed(if flag: Bool) -> MatrixView { flag ? transposed : self }

    @inline(__always)
    subscript(i: Int, j: Int) -> Float {
        get { base[i * rowStride + j * colStride] }
        nonmutating set { base[i * rowStride + j * colStride] = newValue }
    }
}

/// The row kernels of the loss graph: L2 normalisation and, for each
/// strategy, the value of one direction (rows of an n x n similarity matrix)
/// together with its gradient, accumulated into gradient matrices.
///
/// Each kernel returns the value of its definition in METHOD.md for the rows
/// of the views it is given and adds `scale` times that value's derivative
/// w.r.t. the student matrices. Row scalars (max, log-sum-exp, KL) are kept
/// in Double; `rowA`/`rowB` are caller-owned scratch rows of `n` doubles.
enum SimilarityKernels {
    /// `y = x / ||x||` per row, writing the norms; a zero row stays zero.
    static func normalizeRows(
        x: UnsafePointer<Float>, rows: Int, cols: Int,
        y: UnsafeMutablePointer<Float>, norms: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            let src = x + r * cols, dst = y + r * cols
            var sum = 0.0
            for c in 0..<cols { sum += Double(src[c]) * Double(src[c]) }
            let norm = sum.squareRoot()
            norms[r] = Float(norm)
            let inv = norm > 0 ? 1 / norm : 0
            for c in 0..<cols { dst[c] = Float(Double(src[c]) * inv) }
        }
    }

    /// `dx = (dy - y (y . dy)) / ||x||` per row; rows with zero norm get zero.
    static func normalizeBackward(
        dy: UnsafePointer<Float>, y: UnsafePointer<Float>, norms: UnsafePointer<Float>,
        rows: Int, cols: Int, dx: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            let g = dy + r * cols, v = y + r * cols, out = dx + r * cols
            let norm = Double(norms[r])
            guard norm > 0 else {
                out.update(repeating: 0, count: cols)
                continue
            }
            var proj = 0.0
            for c in 0..<cols { proj += Double(v[c]) * Double(g[c]) }
            let inv = 1 / norm
            for c in 0..<cols { out[c] = Float((Double(g[c]) - Double(v[c]) * proj) * inv) }
        }
    }

    /// Writes `log softmax(row i of m / tau)` into `out` and returns nothing.
    @inline(__always)
    static func logSoftmaxRow(_ m: MatrixView, row i: Int, n: Int, invTau: Double, out: UnsafeMutablePointer<Double>) {
        var maxValue = -Double.infinity
        for j in 0..<n {
            let z = Double(m[i, j]) * invTau
            out[j] = z
            if z > maxValue { maxValue = z }
        }
        var sum = 0.0
        for j in 0..<n { sum += exp(out[j] - maxValue) }
        let lse = maxValue + log(sum)
        for j in 0..<n { out[j] -= lse }
    }

    /// CE(M / tau) over the rows of `m`: mean_i [logsumexp_j Z_ij - Z_ii].
    /// Adds `scale * (softmax_r(Z) - I) / (n tau)` to `g`.
    static func crossEntropyRows(
        _ m: MatrixView, gradient g: MatrixView, n: Int, tau: Double, scale: Double,
        rowA: UnsafeMutablePointer<Double>
    ) -> Double {
        let invTau = 1 / tau
        let gradFactor = scale / (Double(n) * tau)
        var total = 0.0
        for i in 0..<n {
            logSoftmaxRow(m, row: i, n: n, invTau: invTau, out: rowA)
            total -= rowA[i]
            for j in 0..<n {
                let target = i == j ? 1.0 : 0.0
                g[i, j] += Float(gradFactor * (exp(rowA[j]) - target))
            }
        }
        return total / Double(n)
    }

    /// KLr(T / tau || M / tau) over the rows: mean_i sum_j pt (log pt - log ps).
    /// Adds `scale * (ps - pt) / (n tau)` to `g` (the gradient w.r.t. M).
    static func klRows(
        teacher t: MatrixView, student m: MatrixView, gradient g: MatrixView,
        n: Int, tau: Double, scale: Double,
        rowA: UnsafeMutablePointer<Double>, rowB: UnsafeMutablePointer<Double>
    ) -> Double {
        let invTau = 1 / tau
        let gradFactor = scale / (Double(n) * tau)
        var total = 0.0
        for i in 0..<n {
            logSoftmaxRow(t, row: i, n: n, invTau: invTau, out: rowA)
            logSoftmaxRow(m, row: i, n: n, invTau: invTau, out: rowB)
            for j in 0..<n {
                let pt = exp(rowA[j]), ps = exp(rowB[j])
                total += pt * (rowA[j] - rowB[j])
                g[i, j] += Float(gradFactor * (ps - pt))
            }
        }
        return total / Double(n)
    }

    /// J(U, V) = KLr(U/tau || V/tau) + KLr(V/tau || U/tau) over the rows.
    /// Both sides are student matrices: adds to `gu`
    /// `scale * [pu (log pu - log pv - KL(pu||pv)) + (pu - pv)] / (n tau)`
    /// and the mirror expression to `gv`.
    static func symmetricKLRows(
        _ u: MatrixView, _ v: MatrixView, gradientU gu: MatrixView, gradientV gv: MatrixView,
        n: Int, tau: Double, scale: Double,
        rowA: UnsafeMutablePointer<Double>, rowB: UnsafeMutablePointer<Double>
    ) -> Double {
        let invTau = 1 / tau
        let gradFactor = scale / (Double(n) * tau)
        var total = 0.0
        for i in 0..<n {
            logSoftmaxRow(u, row: i, n: n, invTau: invTau, out: rowA)
            logSoftmaxRow(v, row: i, n: n, invTau: invTau, out: rowB)
            var klUV = 0.0, klVU = 0.0
            for j in 0..<n {
                let diff = rowA[j] - rowB[j]
                klUV += exp(rowA[j]) * diff
                klVU -= exp(rowB[j]) * diff
            }
            total += klUV + klVU
            for j in 0..<n {
                let pu = exp(rowA[j]), pv = exp(rowB[j])
                let diff = rowA[j] - rowB[j]
                gu[i, j] += Float(gradFactor * (pu * (diff - klUV) + (pu - pv)))
                gv[i, j] += Float(gradFactor * (pv * (-diff - klVU) + (pv - pu)))
            }
        }
        return total / Double(n)
    }

    /// mean_ij (M - T)^2. Adds `scale * 2 (M - T) / n^2` to `gm` and, when
    /// the target is itself a student matrix (sym-sd), its negation to `gt`.
    static func squaredDistance(
        _ m: MatrixView, _ t: MatrixView, gradientM gm: MatrixView, gradientT gt: MatrixView?,
        n: Int, scale: Double
    ) -> Double {
        let gradFactor = 2 * scale / Double(n * n)
        var total = 0.0
        for i in 0..<n {
            for j in 0..<n {
                let e = Double(m[i, j]) - Double(t[i, j])
                total += e * e
                gm[i, j] += Float(gradFactor * e)
                if let gt { gt[i, j] -= Float(gradFactor * e) }
            }
        }
        return total / Double(n * n)
    }

    /// mean_i ||p_i - q_i||^2 over rows of width `d`. Adds
    /// `scale * 2 (p - q) / n` to `gp` and its negation to `gq` when given.
    static func featureDistance(
        _ p: UnsafePointer<Float>, _ q: UnsafePointer<Float>,
        gradientP gp: UnsafeMutablePointer<Float>, gradientQ gq: UnsafeMutablePointer<Float>?,
        n: Int, d: Int, scale: Double
    ) -> Double {
        let gradFactor = 2 * scale / Double(n)
        var total = 0.0
        for k in 0..<(n * d) {
            let e = Double(p[k]) - Double(q[k])
            total += e * e
            gp[k] += Float(gradFactor * e)
            if let gq { gq[k] -= Float(gradFactor * e) }
        }
        return total / Double(n)
    }
}
