import Foundation
import Testing
@testable import ConaclipTensor

@Suite("ElementMath")
struct ElementMathTests {
    @Test func expMatchesLibm() {
        var worst = 0.0
        var x: Float = -87.3
        while x < 88.3 {
            let ref = Foundation.exp(Double(x))
            worst = Swift.max(worst, abs(Double(ElementMath.exp(x)) - ref) / ref)
            x += 0.0137
        }
        #expect(worst < 1.5e-7, "exp relative error \(worst)")
        #expect(ElementMath.exp(0) == 1)
        #expect(ElementMath.exp(-100) == 0)
        #expect(ElementMath.exp(-.infinity) == 0)
        #expect(ElementMath.exp(.nan).isNaN)
        #expect(ElementMath.exp(1000).isFinite)
    }

    @Test func normalCDFMatchesErfc() {
        // Relative error in both tails, including Phi(-12) ~ 1.8e-33. Beyond the
        // polynomial's own 3e-7, the float rounding of x^2 (2^-24 relative) is
        // amplified by x^2/2 inside e^(-x^2/2).
        var worst = 0.0, worstX: Float = 0
        var x: Float = -12
        while x < 12 {
            let ref = 0.5 * erfc(-Double(x) / 2.0.squareRoot())
            let err = abs(Double(ElementMath.normalCDF(x).cdf) - ref) / ref
            let allowed = 4e-7 * (1 + Double(x * x) / 2)
            if err / allowed > worst { worst = err / allowed; worstX = x }
            x += 0.00731
        }
        #expect(worst <= 1, "Phi error \(worst) times the allowance at \(worstX)")
        #expect(abs(ElementMath.normalCDF(0).cdf - 0.5) <= 2e-7)
        #expect(ElementMath.normalCDF(.infinity).cdf == 1)
        #expect(ElementMath.normalCDF(-.infinity).cdf == 0)
    }
}
