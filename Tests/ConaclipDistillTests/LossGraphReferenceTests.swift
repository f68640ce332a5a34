import Foundation
import Testing
@testable import ConaclipDistill

/// Agreement with the independent float64 torch reference
/// (Tests/Reference/loss_reference.py -> Fixtures/loss-reference.json).
@Suite struct LossGraphReferenceTests {
    /// Elementwise: |g - r| <= 1e-3 |r| + 1e-5 max|r| (the floor keeps entries
    /// near zero from demanding more than float32 can give).
    static func gradientsAgree(_ got: [Float], _ reference: [Double]) -> Bool {
        let scale = reference.map(abs).max() ?? 0
        return zip(got, reference).allSatisfy { g, r in abs(Double(g) - r) <= 1e-3 * abs(r) + 1e-5 * scale }
            && got.count == reference.count
    }

    @Test func fixtureCoversEveryDefinedPairAtTwoTemperatures() throws {
        let fixture = try LossReferenceFixture.load()
        for (type, strategy) in definedPairs {
            let taus = Set(fixture.cases.filter {
                $0.type == type.rawValue && $0.strategy == strategy.rawValue && !$0.kl_tau_squared
            }.map(\.tau))
            #expect(taus.count == 2, "\(type.rawValue):\(strategy.rawValue)")
        }
    }

    @Test func everyDefinedTermMatchesTheReference() throws {
        let fixture = try LossReferenceFixture.load()
        let batch = LossBatch(fixture: fixture)
        for reference in fixture.cases {
            let term = try LossTerm(spec: reference.term, klTauSquared: reference.kl_tau_squared)
            #expect(term.type.rawValue == reference.type && term.strategy.rawValue == reference.strategy)
            let result = try batch.evaluate(try LossGraph(terms: [term]))
            let label = "\(reference.term)\(reference.kl_tau_squared ? " tau^2" : "")"
            #expect(abs(result.values[0] - reference.value) <= 1e-4 * abs(reference.value), "\(label): \(result.values[0]) vs \(reference.value)")
            #expect(abs(result.total - reference.value) <= 1e-4 * abs(reference.value), "\(label)")
            #expect(Self.gradientsAgree(result.studentImageGradient, reference.grad_student_image), "\(label) d/dX")
            #expect(Self.gradientsAgree(result.studentTextGradient, reference.grad_student_text), "\(label) d/dY")
        }
    }

    @Test func weightedCombinationMatchesTheReference() throws {
        let fixture = try LossReferenceFixture.load()
        let reference = fixture.combination
        let result = try LossBatch(fixture: fixture).evaluate(try LossGraph(specs: reference.terms))
        #expect(result.values.count == reference.values.count)
        for (got, want) in zip(result.values, reference.values) {
            #expect(abs(got - want) <= 1e-4 * abs(want))
        }
        #expect(abs(result.total - reference.total) <= 1e-4 * abs(reference.total))
        #expect(Self.gradientsAgree(result.studentImageGradient, reference.grad_student_image))
        #expect(Self.gradientsAgree(result.studentTextGradient, reference.grad_student_text))
    }
}

// MARK: - Shared by the LossGraph test suites


/// The fixture written by Tests/Reference/loss_reference.py.
struct LossReferenceFixture: Decodable {
    struct Case: Decodable {
        let term: String
        let type: String
        let strategy: String
        let tau: Double
        let kl_tau_squared: Bool
        let value: Double
        let grad_student_image: [Double]
        let grad_student_text: [Double]
    }
    struct Combination: Decodable {
        let terms: [String]
        let values: [Double]
        let total: Double
        let grad_student_image: [Double]
        let grad_student_text: [Double]
    }
    let n: Int
    let d: Int
    let inputs: [String: [Double]]
    let cases: [Case]
    let combination: Combination

    static func load() throws -> LossReferenceFixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/loss-reference.json")
        return try JSONDecoder().decode(LossReferenceFixture.self, from: Data(contentsOf: url))
    }

    func input(_ name: String) -> [Float] { (inputs[name] ?? []).map(Float.init) }
}

/// Raw [n, d] inputs of one batch.
struct LossBatch {
    var studentImage: [Float]
    var studentText: [Float]
    var teacherImage: [Float]
    var teacherText: [Float]
    let n: Int
    let d: Int

    init(fixture: LossReferenceFixture) {
        studentImage = fixture.input("student_image")
        studentText = fixture.input("student_text")
        teacherImage = fixture.input("teacher_image")
        teacherText = fixture.input("teacher_text")
        n = fixture.n
        d = fixture.d
    }

    /// Gaussian-ish random rows of varied norms from a fixed seed; students
    /// correlated with their teachers.
    init(n: Int, d: Int, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        func matrix(_ base: [Float]?, mix: Float) -> [Float] {
            (0..<(n * d)).map { k in
                let scale: Float = 0.5 + Float(k / d % 3)
                return mix * (base?[k] ?? 0) + scale * rng.normal()
            }
        }
        teacherImage = matrix(nil, mix: 0)
        teacherText = matrix(teacherImage, mix: 0.6)
        studentImage = matrix(teacherImage, mix: 0.5)
        studentText = matrix(teacherText, mix: 0.5)
        self.n = n
        self.d = d
    }

    func evaluate(_ graph: LossGraph) throws -> LossEvaluation {
        try graph.evaluate(studentImage: studentImage, studentText: studentText,
                           teacherImage: teacherImage, teacherText: teacherText, n: n, d: d)
    }
}

/// Small deterministic generator so that random tests are reproducible.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }
    /// Approximately standard normal (sum of 12 uniforms minus 6).
    mutating func normal() -> Float { (0..<12).reduce(Float(0)) { acc, _ in acc + uniform() } - 6 }
}

/// Every defined (type, strategy) pair.
let definedPairs: [(InteractionType, SupervisionStrategy)] = InteractionType.allCases.flatMap { type in
    SupervisionStrategy.allCases.filter { $0.isDefined(on: type) }.map { (type, $0) }
}

/// max |a - b| and max |b|, for normwise comparisons.
func maxAbsDifference(_ a: [Float], _ b: [Double]) -> (difference: Double, scale: Double) {
    precondition(a.count == b.count)
    var difference = 0.0, scale = 0.0
    for (x, y) in zip(a, b) {
        difference = max(difference, abs(Double(x) - y))
        scale = max(scale, abs(y))
    }
    return (difference, scale)
}
