import Testing
@testable import ConaclipDistill

@Suite("Gradient clipping")
struct GradientClippingTests {
    @Test("global norm is the L2 norm accumulated in Double")
    func norm() {
        var rng = TestRandom(seed: 11)
        let g = rng.floats(1003, scale: 5)  // not a multiple of the 4-way unrolling
        let expected = g.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
        let got = g.withUnsafeBufferPointer { GradientClipping.globalNorm($0) }
        #expect(abs(got - expected) <= 1e-12 * expected)
        #expect([Float]().withUnsafeBufferPointer { GradientClipping.globalNorm($0) } == 0)
    }

    @Test("scales down to max_norm when above, as torch does")
    func clips() throws {
        var g: [Float] = [3, 0, -4]
        let report = try g.withUnsafeMutableBufferPointer { try GradientClipping.clipGlobalNorm($0, maxNorm: 1) }
        #expect(report.norm == 5 && report.isFinite && report.wasClipped)
        #expect(report.scale == Float(1 / (5 + 1e-6)))
        #expect(g == [3 * report.scale, 0, -4 * report.scale])
        let after = g.withUnsafeBufferPointer { GradientClipping.globalNorm($0) }
        #expect(abs(after - 1) < 1e-6)
    }

    @Test("leaves gradients alone at or below max_norm")
    func noClip() throws {
        var g: [Float] = [0.3, 0.4]
        let report = try g.withUnsafeMutableBufferPointer { try GradientClipping.clipGlobalNorm($0, maxNorm: 0.6) }
        #expect(!report.wasClipped && report.scale == 1 && g == [0.3, 0.4])
        let measured = try g.withUnsafeMutableBufferPointer { try GradientClipping.clipGlobalNorm($0, maxNorm: .infinity) }
        #expect(!measured.wasClipped && abs(measured.norm - 0.5) < 1e-7)
    }

    @Test("non-finite gradients are reported and left untouched")
    func nonFinite() throws {
        for bad in [Float.infinity, -.infinity, .nan] {
            var g: [Float] = [100, bad, 3]
            let report = try g.withUnsafeMutableBufferPointer { try GradientClipping.clipGlobalNorm($0, maxNorm: 1) }
            #expect(!report.isFinite && !report.wasClipped)
            #expect(g[0] == 100 && g[2] == 3)
        }
    }

    @Test("clips a parameter store's gradients; refuses a bad max_norm")
    func storeAndErrors() throws {
        var layout = ParameterLayout()
        try layout.add("a.weight", shape: [2, 2])
        try layout.add("a.bias", shape: [2])
        let store = ParameterStore(layout: layout)
        for k in 0..<6 { store.gradients[k] = 2 }  // norm = 2 * sqrt(6)
        let report = try GradientClipping.clipGlobalNorm(store, maxNorm: 1)
        #expect(abs(report.norm - 2 * Double(6).squareRoot()) < 1e-12)
        #expect(abs(GradientClipping.globalNorm(UnsafeBufferPointer(store.gradients.buffer)) - 1) < 1e-6)
        #expect(throws: GradientClippingError.invalidMaxNorm(0)) { try GradientClipping.clipGlobalNorm(store, maxNorm: 0) }
        #expect(throws: GradientClippingError.self) { try GradientClipping.clipGlobalNorm(store, maxNorm: .nan) }
    }
}
