import Testing
@testable import ConaclipDistill

/// The analytic backward pass of every defined term against central finite
/// differences of the graph's own forward value, on random data.
@Suite struct LossGraphGradientTests {
    /// Central difference of the total w.r.t. every entry of X and Y.
    static func finiteDifferences(_ graph: LossGraph, _ batch: LossBatch, eps: Float) throws -> (x: [Double], y: [Double]) {
        var probe = batch
        func central(_ path: WritableKeyPath<LossBatch, [Float]>, _ k: Int) throws -> Double {
            let original = probe[keyPath: path][k]
            probe[keyPath: path][k] = original + eps
            let plus = try probe.evaluate(graph).total
            probe[keyPath: path][k] = original - eps
            let minus = try probe.evaluate(graph).total
            probe[keyPath: path][k] = original
            return (plus - minus) / Double(2 * eps)
        }
        let count = batch.n * batch.d
        return (try (0..<count).map { try central(\.studentImage, $0) },
                try (0..<count).map { try central(\.studentText, $0) })
    }

    @Test(arguments: [0.1, 0.7])
    func everyDefinedTermMatchesFiniteDifferences(tau: Double) throws {
        let batch = LossBatch(n: 5, d: 4, seed: 7)
        for (type, strategy) in definedPairs {
            let graph = try LossGraph(terms: [try LossTerm(type: type, strategy: strategy, tau: tau)])
            let analytic = try batch.evaluate(graph)
            // float32 forward: eps trades truncation (eps^2 / tau^3 for the
            // softmax terms) against rounding (ulp / eps).
            let numeric = try Self.finiteDifferences(graph, batch, eps: tau < 0.3 ? 3e-3 : 1e-2)
            for (got, want, name) in [(analytic.studentImageGradient, numeric.x, "X"),
                                      (analytic.studentTextGradient, numeric.y, "Y")] {
                let (difference, scale) = maxAbsDifference(got, want)
                #expect(scale > 1e-3, "\(type.rawValue):\(strategy.rawValue) d/d\(name) is not exercised")
                #expect(difference <= 1e-2 * scale + 1e-4,
                        "\(type.rawValue):\(strategy.rawValue):\(tau) d/d\(name): max error \(difference), scale \(scale)")
            }
        }
    }

    @Test func gradientIsOrthogonalToEachRawRow() throws {
        // The loss only sees normalised rows, so scaling a row changes
        // nothing: the gradient w.r.t. a raw row has no component along it.
        let batch = LossBatch(n: 6, d: 5, seed: 11)
        let graph = try LossGraph(specs: ["intra-ts:infonce:0.07", "inter-ts:sym-kl:0.5", "intra-ss:sd:1", "inter-ss:fd:1"])
        let result = try batch.evaluate(graph)
        for (raw, gradient) in [(batch.studentImage, result.studentImageGradient), (batch.studentText, result.studentTextGradient)] {
            for row in 0..<batch.n {
                let range = row * batch.d..<(row + 1) * batch.d
                let dot = zip(raw[range], gradient[range]).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let norms = raw[range].reduce(0.0) { $0 + Double($1 * $1) }.squareRoot()
                    * gradient[range].reduce(0.0) { $0 + Double($1 * $1) }.squareRoot()
                #expect(norms > 0)
                #expect(abs(dot) <= 1e-5 * norms)
            }
        }
    }
}
