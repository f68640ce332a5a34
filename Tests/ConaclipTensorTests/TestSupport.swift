import Testing
@testable import ConaclipTensor

/// SplitMix64: a tiny deterministic generator so every test sees the same
/// inputs on every run.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    mutating func uniform() -> Float {
        Float(next() >> 40) / Float(1 << 23) - 1
    }

    /// `count` values uniform in [-scale, scale).
    mutating func array(_ count: Int, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in uniform() * scale }
    }
}

/// `sum(out * weights)` accumulated in Float64: the scalar loss whose
/// gradient with respect to `out` is `weights`.
func weightedSum(_ out: [Float], _ weights: [Float]) -> Double {
    precondition(out.count == weights.count)
    var s = 0.0
    for i in out.indices { s += Double(out[i]) * Double(weights[i]) }
    return s
}

/// Central finite differences of `loss` with respect to `values[i]` for each
/// `i` in `indices` (all by default). The step actually taken after float
/// rounding is used as the denominator.
func numericGradient(
    of values: [Float], h: Float = 1e-2, indices: [Int]? = nil, loss: ([Float]) -> Double
) -> [Int: Double] {
    var v = values
    var result: [Int: Double] = [:]
    for i in indices ?? Array(values.indices) {
        let x = v[i]
        v[i] = x + h
        let up = Double(v[i]), lossUp = loss(v)
        v[i] = x - h
        let down = Double(v[i]), lossDown = loss(v)
        v[i] = x
        result[i] = (lossUp - lossDown) / (up - down)
    }
    return result
}

/// Expects `|analytic - numeric| <= atol + rtol * |numeric|` for every
/// checked index, reporting the worst element.
func expectGradient(
    _ label: String, analytic: [Float], numeric: [Int: Double],
    rtol: Double = 1e-2, atol: Double = 1e-3,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(!numeric.isEmpty, "\(label): nothing checked", sourceLocation: sourceLocation)
    var worst = 0.0, worstIndex = -1
    for (i, n) in numeric {
        let a = Double(analytic[i])
        let excess = abs(a - n) / (atol + rtol * abs(n))
        if !(excess <= worst) { worst = excess; worstIndex = i }
    }
    let detail = worstIndex >= 0
        ? "index \(worstIndex): analytic \(analytic[worstIndex]) vs numeric \(numeric[worstIndex] ?? .nan)" : ""
    #expect(worst <= 1, "\(label) gradient mismatch at \(detail)", sourceLocation: sourceLocation)
}

/// Expects `|a - b| <= atol + rtol * |b|` elementwise.
/// `rtolAt`, when given, overrides `rtol` per index.
func expectClose(
    _ a: [Float], _ b: [Double], rtol: Double = 1e-5, atol: Double = 1e-6, _ label: String = "",
    rtolAt: ((Int) -> Double)? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(a.count == b.count, "\(label): count \(a.count) vs \(b.count)", sourceLocation: sourceLocation)
    var worst = 0.0, worstIndex = -1
    for i in 0..<min(a.count, b.count) {
        let difference = abs(Double(a[i]) - b[i])
        let excess = difference == 0 ? 0 : difference / (atol + (rtolAt?(i) ?? rtol) * abs(b[i]))
        if !(excess <= worst) { worst = excess; worstIndex = i }
    }
    let detail = worstIndex >= 0 ? "index \(worstIndex): \(a[worstIndex]) vs \(b[worstIndex])" : ""
    #expect(worst <= 1, "\(label) mismatch at \(detail)", sourceLocation: sourceLocation)
}

func expectClose(
    _ a: [Float], _ b: [Float], rtol: Double = 1e-5, atol: Double = 1e-6, _ label: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectClose(a, b.map(Double.init), rtol: rtol, atol: atol, label, sourceLocation: sourceLocation)
}

/// A `FloatBuffer` holding a copy of `values` (test shorthand).
func buffer(_ values: [Float]) -> FloatBuffer { FloatBuffer(values) }
