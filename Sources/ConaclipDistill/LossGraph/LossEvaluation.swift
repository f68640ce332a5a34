/// The result of evaluating a `LossGraph` on one batch: each term's value,
/// the weighted total, and the gradient of the total w.r.t. the RAW (not yet
/// L2-normalised) student image and text embeddings, for all `n` rows.
///
/// The gradients live in buffers the graph reuses on its next evaluation
/// unless this value is still alive then (the graph checks and allocates a
/// fresh buffer instead), so holding an evaluation is always safe.
public struct LossEvaluation: Sendable {
    /// The graph's terms, in order.
    public let terms: [LossTerm]
    /// Each term's value (unweighted; including tau^2 when that option is on).
    public let values: [Double]
    /// sum of `weight * value` over the terms.
    public let total: Double
    /// Batch rows and embedding width.
    public let n: Int
    public let d: Int
    private let imageGradient: FloatBuffer
    private let textGradient: FloatBuffer

    init(terms: [LossTerm], values: [Double], total: Double, n: Int, d: Int,
         imageGradient: FloatBuffer, textGradient: FloatBuffer) {
        precondition(imageGradient.count >= n * d && textGradient.count >= n * d)
        self.terms = terms
        self.values = values
        self.total = total
        self.n = n
        self.d = d
        self.imageGradient = imageGradient
        self.textGradient = textGradient
    }

    /// d total / d raw student_image, [n, d] row-major (a copy).
    public var studentImageGradient: [Float] { Array(UnsafeBufferPointer(start: imageGradient.pointer, count: n * d)) }

    /// d total / d raw student_text, [n, d] row-major (a copy).
    public var studentTextGradient: [Float] { Array(UnsafeBufferPointer(start: textGradient.pointer, count: n * d)) }

    /// Calls `body` with the image and text gradients ([n, d] each) without copying.
    public func withGradients<R>(
        _ body: (_ studentImage: UnsafeBufferPointer<Float>, _ studentText: UnsafeBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try body(UnsafeBufferPointer(start: imageGradient.pointer, count: n * d),
                 UnsafeBufferPointer(start: textGradient.pointer, count: n * d))
    }

    /// Copies the gradient rows `rows` (a worker's own shard of the full
    /// batch) into `studentImage` and `studentText`, `rows.count * d` floats each.
    public func copyGradients(
        rows: Range<Int>, studentImage: UnsafeMutablePointer<Float>, studentText: UnsafeMutablePointer<Float>
    ) {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= n, "rows \(rows) outside 0..<\(n)")
        studentImage.update(from: imageGradient.pointer + rows.lowerBound * d, count: rows.count * d)
        studentText.update(from: textGradient.pointer + rows.lowerBound * d, count: rows.count * d)
    }

    /// Whether the total and every gradient entry are finite.
    public var isFinite: Bool {
        guard total.isFinite else { return false }
        return withGradients { image, text in
            image.allSatisfy(\.isFinite) && text.allSatisfy(\.isFinite)
        }
    }
}
