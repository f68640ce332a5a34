import Foundation

/// Errors from evaluating the contrastive loss: each names the offending input.
public enum ContrastiveLossError: Error, Equatable, CustomStringConvertible {
    /// The batch has no rows; the loss (a mean over rows) is undefined.
    case emptyBatch
    /// The embedding width is not positive.
    case invalidDimension(Int)
    /// `logit_scale` is NaN (the parameter is corrupt; restore a checkpoint).
    case nonFiniteLogitScale(Float)
    /// The similarity multiplier is NaN or infinite.
    case nonFiniteScale(Float)
    /// The requested gradient rows do not lie inside the batch.
    case gradientRowsOutOfRange(Range<Int>, batch: Int)

    public var description: String {
        switch self {
        case .emptyBatch:
            return "contrastive loss needs at least one image-text pair in the batch"
        case let .invalidDimension(d):
            return "embedding width must be positive, got \(d)"
        case let .nonFiniteLogitScale(v):
            return "logit_scale is \(v); the parameter is corrupt (restore it from a checkpoint)"
        case let .nonFiniteScale(v):
            return "similarity scale must be finite, got \(v)"
        case let .gradientRowsOutOfRange(r, n):
            return "gradient rows \(r.lowerBound)..<\(r.upperBound) are outside the batch of \(n) rows"
        }
    }
}

/// Where `ContrastiveLoss` puts the embedding gradients.
///
/// Only rows `rows` of the batch get a gradient (a data-parallel worker asks
/// for its own shard's rows, METHOD.md "Exact data-parallel training"); the
/// output buffers hold `rows.count * dim` floats, row `rows.lowerBound` first.
/// Gradients are multiplied by `weight` (the term's weight in a combined
/// loss) and either overwrite the outputs or are added to them.
public struct ContrastiveGradientOutput {
    public var image: UnsafeMutablePointer<Float>
    public var text: UnsafeMutablePointer<Float>
    /// Batch rows whose gradients are written; `nil` means all rows.
    public var rows: Range<Int>?
    public var weight: Float
    /// Add to the outputs instead of overwriting them.
    public var accumulate: Bool

    public init(image: UnsafeMutablePointer<Float>, text: UnsafeMutablePointer<Float>,
                rows: Range<Int>? = nil, weight: Float = 1, accumulate: Bool = false) {
        self.image = image; self.text = text; self.rows = rows
        self.weight = weight; self.accumulate = accumulate
    }
}

/// The value of CLIP's task loss and its gradient with respect to `logit_scale`.
public struct ContrastiveLossResult: Sendable, Equatable {
    /// The (unweighted) symmetric InfoNCE loss of the whole batch.
    public var loss: Float
    /// The multiplier used on the cosine similarities: `min(exp(logit_scale), 100)`.
    public var scale: Float
    /// True when `exp(logit_scale) > 100`, so the scale was clamped and
    /// `logitScaleGradient` is 0.
    public var isScaleClamped: Bool
    /// `weight * dL/d logit_scale`, restricted to the gradient rows' share
    /// (see `ContrastiveLoss.evaluate`); 0 when no gradients were requested.
    public var logitScaleGradient: Float
}

/// CLIP's contrastive task loss: the symmetric InfoNCE between image and text
/// embeddings with the learnable temperature `tau = 1 / exp(logit_scale)`.
///
/// With X, Y the row-L2-normalised image and text embeddings [N, d],
/// `M = X Y^T`, `s = min(exp(logit_scale), 100)` and `Z = s M`:
/// `L = 1/2 [CE(Z) + CE(Z^T)]`, `CE(Z) = mean_i [logsumexp_j Z_ij - Z_ii]`
/// (METHOD.md, inter-ss infonce). With R and C the row- and column-softmax of
/// Z, `G = dL/dZ = (R + C - 2I) / (2N)`, `dL/dX = s G Y`, `dL/dY = s G^T X`,
/// `dL/ds = sum(G * M)` and `dL/d logit_scale = s dL/ds` (0 when clamped);
/// the embedding gradients are then taken through the L2 normalisation.
///
/// Work buffers are kept between calls and grown only when N or d grows.
/// Matrix products use BLAS and the normalisation the `L2Normalize` kernel;
/// the row and column softmaxes are computed here (the `Softmax` kernel is
/// row-only and does not give the logsumexp the loss needs), with a stable
/// logsumexp whose exponential sums are accumulated in Double. An all-zero embedding row is
/// treated as a zero unit vector and receives a zero gradient. Inputs are
/// not scanned for NaN/inf: a non-finite input gives a non-finite loss,
/// which the caller must check. Not thread-safe: use one instance per thread.
public final class ContrastiveLoss {
    /// CLIP's cap on `exp(logit_scale)`.
    public static let maximumScale: Float = 100

    private var x = FloatBuffer(count: 0)
    private var y = FloatBuffer(count: 0)
    private var normX = FloatBuffer(count: 0)
    private var normY = FloatBuffer(count: 0)
    private var dx = FloatBuffer(count: 0)
    private var dy = FloatBuffer(count: 0)
    private var sim = FloatBuffer(count: 0)
    private var grad = FloatBuffer(count: 0)
    private var colMax = FloatBuffer(count: 0)
    private var colSum = DoubleScratch(count: 0)

    public init() {}

    /// The task loss from raw (un-normalised) image and text embeddings
    /// `[rows, dim]` and the raw `logit_scale` parameter value.
    ///
    /// When `gradients` is given, writes `weight * dL/d(raw embedding)` for
    /// its rows. The returned `logitScaleGradient` is then the share of
    /// `weight * dL/d logit_scale` that belongs to those rows (the sum over
    /// the image-anchored rows i of `sum_j G_ij M_ij`, times s), so summing it
    /// over a partition of the batch's rows gives the full gradient, like
    /// every other parameter gradient of a sharded batch.
    public func evaluate(
        image: UnsafePointer<Float>, text: UnsafePointer<Float>, rows n: Int, dim d: Int,
        logitScale: Float, gradients: ContrastiveGradientOutput? = nil
    ) throws(ContrastiveLossError) -> ContrastiveLossResult {
        guard !logitScale.isNaN else { throw .nonFiniteLogitScale(logitScale) }
        try validate(rows: n, dim: d, gradients: gradients)
        let unclamped = Float(Foundation.exp(Double(logitScale)))
        let clamped = unclamped > Self.maximumScale
        let s = clamped ? Self.maximumScale : unclamped
        reserve(rows: n, dim: d)

        L2Normalize.forward(x: image, rows: n, cols: d, y: x.pointer, norms: normX.pointer)
        L2Normalize.forward(x: text, rows: n, cols: d, y: y.pointer, norms: normY.pointer)
        let core = symmetricInfoNCE(p: x.pointer, q: y.pointer, rows: n, dim: d, scale: s,
                                    gradientRows: gradients.map { $0.rows ?? 0..<n },
                                    weight: gradients?.weight ?? 1)
        var logitGrad: Float = 0
        if let out = gradients {
            let r = out.rows ?? 0..<n
            let count = r.count * d
            // With accumulate, chain in place in the work buffer, then add.
            let imageTarget = out.accumulate ? dx.pointer : out.image
            let textTarget = out.accumulate ? dy.pointer : out.text
            L2Normalize.backward(dy: dx.pointer, y: x.pointer + r.lowerBound * d,
                                 norms: normX.pointer + r.lowerBound, rows: r.count, cols: d, dx: imageTarget)
            L2Normalize.backward(dy: dy.pointer, y: y.pointer + r.lowerBound * d,
                                 norms: normY.pointer + r.lowerBound, rows: r.count, cols: d, dx: textTarget)
            if out.accumulate {
                for k in 0..<count { out.image[k] += dx.pointer[k]; out.text[k] += dy.pointer[k] }
            }
            // ds/d logit_scale = exp(logit_scale) = s where not clamped.
            logitGrad = clamped ? 0 : Float(core.scaleGradient * Double(s))
        }
        return ContrastiveLossResult(loss: Float(core.loss), scale: s, isScaleClamped: clamped,
                                     logitScaleGradient: logitGrad)
    }

    /// The symmetric InfoNCE on rows that are ALREADY L2-normalised, with a
    /// fixed multiplier `scale` (= 1/tau) on the similarities. Gradients, if
    /// requested, are with respect to the normalised inputs (the caller
    /// chains them through its own normalisation). Returns the loss and the
    /// gradient rows' share of `weight * dL/dscale` (0 without gradients).
    public func evaluateNormalized(
        image: UnsafePointer<Float>, text: UnsafePointer<Float>, rows n: Int, dim d: Int,
        scale: Float, gradients: ContrastiveGradientOutput? = nil
    ) throws(ContrastiveLossError) -> (loss: Float, scaleGradient: Float) {
        guard scale.isFinite else { throw .nonFiniteScale(scale) }
        try validate(rows: n, dim: d, gradients: gradients)
        reserve(rows: n, dim: d)
        let core = symmetricInfoNCE(p: image, q: text, rows: n, dim: d, scale: scale,
                                    gradientRows: gradients.map { $0.rows ?? 0..<n },
                                    weight: gradients?.weight ?? 1)
        guard let out = gradients else { return (Float(core.loss), 0) }
        let count = (out.rows ?? 0..<n).count * d
        if out.accumulate {
            for k in 0..<count { out.image[k] += dx.pointer[k]; out.text[k] += dy.pointer[k] }
        } else {
            out.image.update(from: dx.pointer, count: count)
            out.text.update(from: dy.pointer, count: count)
        }
        return (Float(core.loss), Float(core.scaleGradient))
    }

    // MARK: - Core

    private func validate(rows n: Int, dim d: Int, gradients: ContrastiveGradientOutput?) throws(ContrastiveLossError) {
        guard n > 0 else { throw .emptyBatch }
        guard d > 0 else { throw .invalidDimension(d) }
        if let r = gradients?.rows, r.lowerBound < 0 || r.upperBound > n {
            throw .gradientRowsOutOfRange(r, batch: n)
        }
    }

    /// Grows the work buffers if this call needs more room than any before.
    private func reserve(rows n: Int, dim d: Int) {
        if x.count < n * d {
            x = FloatBuffer(count: n * d); y = FloatBuffer(count: n * d)
            dx = FloatBuffer(count: n * d); dy = FloatBuffer(count: n * d)
        }
        if normX.count < n {
            normX = FloatBuffer(count: n); normY = FloatBuffer(count: n)
            colMax = FloatBuffer(count: n); colSum = DoubleScratch(count: n)
        }
        if sim.count < n * n {
            sim = FloatBuffer(count: n * n); grad = FloatBuffer(count: n * n)
        }
    }

    /// Loss and `dL/dscale` (Double); when `gradientRows` is set, also
    /// `weight * scale * G[rows] Q` into `dx` and `weight * scale * G[:, rows]^T P`
    /// into `dy`, and the returned scale gradient is the rows' share times `weight`.
    private func symmetricInfoNCE(
        p: UnsafePointer<Float>, q: UnsafePointer<Float>, rows n: Int, dim d: Int, scale s: Float,
        gradientRows: Range<Int>?, weight: Float
    ) -> (loss: Double, scaleGradient: Double) {
        let m = sim.pointer, g = grad.pointer, cmax = colMax.pointer, csum = colSum.pointer
        // M = P Q^T.
        BLAS.gemm(transA: false, transB: true, m: n, n: n, k: d,
                  a: p, lda: d, b: q, ldb: d, c: m, ldc: n)

        // Row direction (image -> text): g <- row softmax of Z = sM.
        var rowLoss = 0.0
        for j in 0..<n { cmax[j] = -.infinity }
        for i in 0..<n {
            let mi = m + i * n, gi = g + i * n
            var zmax = -Float.infinity
            for j in 0..<n {
                let z = s * mi[j]
                if z > zmax { zmax = z }
                if z > cmax[j] { cmax[j] = z }
            }
            var sum = 0.0
            for j in 0..<n {
                let e = Foundation.exp(s * mi[j] - zmax)
                gi[j] = e
                sum += Double(e)
            }
            rowLoss += Double(zmax) + Foundation.log(sum) - Double(s * mi[i])
            let inv = Float(1 / sum)
            for j in 0..<n { gi[j] *= inv }
        }

        // Column direction (text -> image): logsumexp over i of each column.
        for j in 0..<n { csum[j] = 0 }
        for i in 0..<n {
            let mi = m + i * n
            for j in 0..<n { csum[j] += Double(Foundation.exp(s * mi[j] - cmax[j])) }
        }
        var colLoss = 0.0
        for j in 0..<n {
            let lse = Double(cmax[j]) + Foundation.log(csum[j])
            colLoss += lse - Double(s * m[j * n + j])
            cmax[j] = Float(lse)  // reuse: column logsumexp
        }
        let loss = (rowLoss + colLoss) / Double(2 * n)

        guard let rows = gradientRows else { return (loss, 0) }
        // G = (R + C - 2I) / (2N) on every row (dY needs all rows of G).
        let half = Float(1 / Double(2 * n)), diag = Float(1 / Double(n))
        var scaleGrad = 0.0
        for i in 0..<n {
            let mi = m + i * n, gi = g + i * n
            var rowDot = 0.0
            for j in 0..<n {
                let c = Foundation.exp(s * mi[j] - cmax[j])
                var v = (gi[j] + c) * half
                if j == i { v -= diag }
                gi[j] = v
                rowDot += Double(v) * Double(mi[j])
            }
            if rows.contains(i) { scaleGrad += rowDot }
        }
        let alpha = weight * s
        if !rows.isEmpty {
            // dX[rows] = alpha * G[rows, :] Q ; dY[rows] = alpha * (G[:, rows])^T P.
            BLAS.gemm(transA: false, transB: false, m: rows.count, n: d, k: n, alpha: alpha,
                      a: g + rows.lowerBound * n, lda: n, b: q, ldb: d, c: dx.pointer, ldc: d)
            BLAS.gemm(transA: true, transB: false, m: rows.count, n: d, k: n, alpha: alpha,
                      a: g + rows.lowerBound, lda: n, b: p, ldb: d, c: dy.pointer, ldc: d)
        }
        return (loss, scaleGrad * Double(weight))
    }
}

/// A fixed-size Double scratch array with a stable address (for sums kept in
/// Double precision without per-call allocation).
private final class DoubleScratch {
    let count: Int
    let pointer: UnsafeMutablePointer<Double>

    init(count: Int) {
        self.count = count
        pointer = UnsafeMutablePointer<Double>.allocate(capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    deinit { pointer.deallocate() }
}
