import Testing
@testable import ConaclipDistill

/// Term construction: defined and refused pairs, spec parsing and options.
@Suite struct LossGraphTermTests {
    static let undefined: [(InteractionType, SupervisionStrategy)] = [
        (.intraSS, .infonce), (.intraSS, .fd), (.interSS, .symSD), (.interSS, .symKL),
    ]

    @Test func exactlyTheFourUndefinedPairsAreRefused() throws {
        #expect(definedPairs.count == 20)
        for (type, strategy) in Self.undefined {
            let error = #expect(throws: LossGraphError.self) {
                _ = try LossTerm(type: type, strategy: strategy, tau: 0.1)
            }
            guard case let .undefinedPair(gotType, gotStrategy, reason)? = error else {
                Issue.record("expected undefinedPair for \(type.rawValue):\(strategy.rawValue), got \(String(describing: error))")
                continue
            }
            #expect(gotType == type && gotStrategy == strategy)
            #expect(!reason.isEmpty)
            #expect(error?.description.contains("\(type.rawValue):\(strategy.rawValue)") == true)
            // The spec path refuses them too.
            #expect(throws: LossGraphError.self) { _ = try LossTerm(spec: "\(type.rawValue):\(strategy.rawValue):0.1") }
        }
        for (type, strategy) in definedPairs {
            #expect(throws: Never.self) { _ = try LossTerm(type: type, strategy: strategy, tau: 0.1) }
        }
    }

    @Test func parsesSpecsWithDefaultAndExplicitWeights() throws {
        let plain = try LossTerm(spec: "inter-ts:sym-kl:0.07")
        #expect(plain.type == .interTS && plain.strategy == .symKL && plain.tau == 0.07 && plain.weight == 1)
        #expect(!plain.klTauSquared)
        let weighted = try LossTerm(spec: " intra-ts : fd : 1 : 0.5 ")
        #expect(weighted.type == .intraTS && weighted.strategy == .fd && weighted.tau == 1 && weighted.weight == 0.5)
        for term in [plain, weighted, try LossTerm(spec: "INTRA-SS:SYM-SD:2e-1:3")] {
            #expect(try LossTerm(spec: term.spec) == term)
        }
        #expect(weighted.spec == "intra-ts:fd:1.0:0.5")
    }

    @Test(arguments: [
        ("intra-ts:infonce", "2 field(s)"),
        ("intra-ts:infonce:0.1:1:2", "5 field(s)"),
        ("", "1 field(s)"),
        ("intra-tt:sd:0.1", "unknown interaction type 'intra-tt'"),
        ("intra-ts:symkl:0.1", "unknown strategy 'symkl'"),
        ("intra-ts:sd:abc", "TAU 'abc' is not a number"),
        ("intra-ts:sd:0.1:heavy", "WEIGHT 'heavy' is not a number"),
        ("intra-ts:sd:0", "tau must be a finite number > 0"),
        ("intra-ts:sd:-0.5", "tau must be a finite number > 0"),
        ("intra-ts:sd:nan", "tau must be a finite number > 0"),
        ("intra-ts:sd:inf", "tau must be a finite number > 0"),
        ("intra-ts:sd:0.1:-1", "weight must be a finite number >= 0"),
        ("intra-ss:infonce:0.1", "undefined"),
        ("inter-ss:sym-kl:0.1", "undefined"),
    ])
    func refusesBadSpecsWithActionableMessages(spec: String, expected: String) {
        let error = #expect(throws: LossGraphError.self) { _ = try LossTerm(spec: spec) }
        let message = error?.description ?? ""
        #expect(message.contains(expected), "\(message)")
        if message.contains("unknown interaction type") || message.contains("field(s)") {
            #expect(message.contains(InteractionType.allowedNames))
        }
        if message.contains("unknown strategy") || message.contains("field(s)") {
            #expect(message.contains(SupervisionStrategy.allowedNames))
        }
    }

    @Test func tauSquaredOptionIsOffByDefaultAndOnlyForKL() throws {
        #expect(try !LossTerm(spec: "inter-ss:kl:0.5").klTauSquared)
        let error = #expect(throws: LossGraphError.self) {
            _ = try LossTerm(type: .intraTS, strategy: .sd, tau: 0.5, klTauSquared: true)
        }
        #expect(error == .optionNotApplicable(option: "kl_tau_squared", term: "intra-ts:sd"))
    }

    @Test func tauSquaredScalesValueAndGradientOfKLTerms() throws {
        let batch = LossBatch(n: 6, d: 5, seed: 3)
        for spec in ["inter-ss:kl:0.3", "inter-ts:sym-kl:0.3", "intra-ss:kl:0.3", "intra-ts:sym-kl:0.3"] {
            let plain = try batch.evaluate(try LossGraph(terms: [try LossTerm(spec: spec)]))
            let scaled = try batch.evaluate(try LossGraph(terms: [try LossTerm(spec: spec, klTauSquared: true)]))
            #expect(abs(scaled.values[0] - 0.09 * plain.values[0]) <= 1e-9 * plain.values[0], "\(spec)")
            #expect(abs(scaled.total - 0.09 * plain.total) <= 1e-9 * plain.total)
            for (a, b) in zip(scaled.studentImageGradient + scaled.studentTextGradient,
                              plain.studentImageGradient + plain.studentTextGradient) {
                #expect(abs(a - 0.09 * b) <= 1e-6 * max(abs(b), 1e-3))
            }
        }
    }

    @Test func graphBuiltFromSpecsKeepsTermOrder() throws {
        let graph = try LossGraph(specs: ["intra-ts:infonce:0.07", "inter-ss:kl:0.5:2"])
        #expect(graph.terms.map(\.spec) == ["intra-ts:infonce:0.07", "inter-ss:kl:0.5:2.0"])
        #expect(throws: LossGraphError.self) { _ = try LossGraph(specs: ["intra-ts:infonce:0.07", "intra-ss:fd:1"]) }
    }
}
