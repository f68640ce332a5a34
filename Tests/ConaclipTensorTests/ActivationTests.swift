import Foundation
import Testing
@testable import ConaclipTensor

@Suite("Activation")
struct ActivationTests {
    /// x * Phi(x) in Float64 (erfc form, exact in the lower tail).
    static func geluReference(_ x: Double) -> Double { x * 0.5 * erfc(-x / 2.0.squareRoot()) }
    static func geluDerivative(_ x: Double) -> Double {
        0.5 * erfc(-x / 2.0.squareRoot()) + x * Foundation.exp(-x * x / 2) / (2 * Double.pi).squareRoot()
    }
    static func quickReference(_ x: Double) -> Double { x / (1 + Foundation.exp(-1.702 * x)) }
    static func quickDerivative(_ x: Double) -> Double {
        let s = 1 / (1 + Foundation.exp(-1.702 * x))
        return s + 1.702 * x * s * (1 - s)
    }

    func apply(_ act: Activation, _ x: [Float]) -> [Float] {
        let xb = buffer(x), y = FloatBuffer(count: x.count)
        act.forward(x: xb.pointer, y: y.pointer, count: x.count)
        return y.array
    }

    func gradient(_ act: Activation, _ x: [Float], _ dy: [Float]) -> [Float] {
        let xb = buffer(x), dyb = buffer(dy), dx = FloatBuffer(count: x.count)
        act.backward(dy: dyb.pointer, x: xb.pointer, dx: dx.pointer, count: x.count)
        return dx.array
    }

    @Test func geluKnownValues() {
        // x * Phi(x) with Phi from standard normal tables:
        // Phi(1) = 0.8413447461, Phi(2) = 0.9772498681, Phi(-3) = 0.0013498980.
        let y = apply(.gelu, [1, -1, 2, -3, 0])
        let expected: [Double] = [0.8413447461, -0.1586552539, 1.9544997361, -0.0040496941, 0]
        expectClose(y, expected, rtol: 2e-6, atol: 0, "gelu")
    }

    @Test func geluMatchesErfAcrossRange() {
        // Every 1/64 over [-12, 12], covering the polynomial, tail and saturated regions.
        let x = (-768...768).map { Float($0) / 64 }
        let y = apply(.gelu, x)
        // Relative accuracy holds in the lower tail too (no 1 + erf cancellation);
        // beyond the 3e-7 of the CDF polynomial, the float rounding of x^2
        // (2^-24 relative) is amplified by x^2/2 inside e^(-x^2/2).
        let rtol: (Int) -> Double = { 4e-7 * (1 + Double(x[$0] * x[$0]) / 2) }
        expectClose(y, x.map { Self.geluReference(Double($0)) }, atol: 1e-37, "gelu", rtolAt: rtol)
        let dx = gradient(.gelu, x, [Float](repeating: 1, count: x.count))
        expectClose(dx, x.map { Self.geluDerivative(Double($0)) }, atol: 1e-6, "gelu'", rtolAt: rtol)
    }

    @Test func quickGELUMatchesSigmoidForm() {
        let x = (-768...768).map { Float($0) / 64 }
        // The rounding of 1.702 x (2^-24 relative) is amplified by |1.702 x| inside the exponential.
        let rtol: (Int) -> Double = { 2e-7 * (1 + 1.702 * Double(x[$0].magnitude)) }
        expectClose(apply(.quickGELU, x), x.map { Self.quickReference(Double($0)) }, atol: 1e-37, "quick_gelu", rtolAt: rtol)
        let dx = gradient(.quickGELU, x, [Float](repeating: 1, count: x.count))
        expectClose(dx, x.map { Self.quickDerivative(Double($0)) }, atol: 1e-6, "quick_gelu'", rtolAt: rtol)
        // Far tails: no overflow to NaN.
        let extreme = apply(.quickGELU, [-200, 200, -1e30, 1e30])
        #expect(extreme.allSatisfy { $0.isFinite })
        #expect(extreme[1] == 200 && extreme[3] == 1e30)
        #expect(extreme[0] <= 0 && extreme[0] > -1e-30)
    }

    @Test(arguments: Activation.allCases)
    func backwardMatchesFiniteDifferences(_ act: Activation) {
        var rng = SplitMix64(seed: 20)
        let x = rng.array(37, scale: 4), r = rng.array(37)
        let dx = gradient(act, x, r)
        expectGradient("\(act)", analytic: dx, numeric: numericGradient(of: x, h: 1e-2) {
            weightedSum(apply(act, $0), r)
        })
    }

    @Test(arguments: Activation.allCases)
    func inPlaceMatchesOutOfPlace(_ act: Activation) {
        var rng = SplitMix64(seed: 21)
        let x = rng.array(41, scale: 3), dy = rng.array(41)
        let y = buffer(x)
        act.forward(x: y.pointer, y: y.pointer, count: x.count)
        #expect(y.array == apply(act, x))
        let xb = buffer(x), d = buffer(dy)
        act.backward(dy: d.pointer, x: xb.pointer, dx: d.pointer, count: x.count)
        #expect(d.array == gradient(act, x, dy))
    }

    @Test func rawValuesMatchPyTorchNames() {
        #expect(Activation(rawValue: "gelu") == .gelu)
        #expect(Activation(rawValue: "quick_gelu") == .quickGELU)
    }
}
