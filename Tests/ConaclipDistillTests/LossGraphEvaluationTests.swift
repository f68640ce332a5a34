import Testing
@testable import ConaclipDistill

/// The total, weights, workspace reuse and the evaluation's buffers.
@Suite struct LossGraphEvaluationTests {
    static let specs = ["intra-ts:infonce:0.07", "intra-ts:fd:1:0.5", "intra-ts:sym-sd:1:2",
                        "intra-ss:sd:1:1.5", "inter-ts:sym-kl:0.5:0.25", "inter-ss:kl:0.07", "inter-ss:infonce:0.2:0"]

    @Test func totalAndGradientAreTheWeightedSumOfSingleTerms() throws {
        let batch = LossBatch(n: 7, d: 6, seed: 5)
        let combined = try batch.evaluate(try LossGraph(specs: Self.specs))
        var total = 0.0
        var gx = [Double](repeating: 0, count: batch.n * batch.d), gy = gx
        for (index, term) in combined.terms.enumerated() {
            let unit = try LossTerm(type: term.type, strategy: term.strategy, tau: term.tau)
            let single = try batch.evaluate(try LossGraph(terms: [unit]))
            #expect(abs(single.values[0] - combined.values[index]) <= 1e-6 * abs(single.values[0]), "\(term)")
            total += term.weight * single.values[0]
            for k in gx.indices {
                gx[k] += term.weight * Double(single.studentImageGradient[k])
                gy[k] += term.weight * Double(single.studentTextGradient[k])
            }
        }
        #expect(abs(combined.total - total) <= 1e-6 * abs(total))
        for (got, want) in [(combined.studentImageGradient, gx), (combined.studentTextGradient, gy)] {
            let (difference, scale) = maxAbsDifference(got, want)
            #expect(difference <= 1e-5 * scale)
        }
        // The zero-weight term reports its value but adds nothing.
        #expect(combined.values.last.map { $0 > 0 } == true)
    }

    @Test func emptyGraphIsZero() throws {
        let result = try LossBatch(n: 3, d: 2, seed: 1).evaluate(try LossGraph(terms: []))
        #expect(result.total == 0 && result.values.isEmpty)
        #expect(result.studentImageGradient.allSatisfy { $0 == 0 } && result.studentTextGradient.allSatisfy { $0 == 0 })
    }

    @Test func shrinkingAndGrowingTheBatchReusesWorkspacesCorrectly() throws {
        let graph = try LossGraph(specs: Self.specs)
        let fresh = { (batch: LossBatch) throws -> LossEvaluation in try batch.evaluate(try LossGraph(specs: Self.specs)) }
        for (n, d, seed) in [(6, 5, 1), (3, 5, 2), (6, 3, 3), (8, 7, 4), (2, 2, 5)] as [(Int, Int, UInt64)] {
            let batch = LossBatch(n: n, d: d, seed: seed)
            let reused = try batch.evaluate(graph)
            let reference = try fresh(batch)
            #expect(reused.values == reference.values, "n=\(n) d=\(d)")
            #expect(reused.studentImageGradient == reference.studentImageGradient)
            #expect(reused.studentTextGradient == reference.studentTextGradient)
        }
    }

    @Test func anEvaluationIsNotOverwrittenByTheNextOne() throws {
        let graph = try LossGraph(specs: Self.specs)
        let first = try LossBatch(n: 6, d: 5, seed: 1).evaluate(graph)
        let firstGradient = first.studentImageGradient, firstValues = first.values
        let second = try LossBatch(n: 6, d: 5, seed: 2).evaluate(graph)
        #expect(second.studentImageGradient != firstGradient)
        #expect(first.studentImageGradient == firstGradient)
        #expect(first.values == firstValues)
    }

    @Test func shardRowsAreSlicesOfTheFullBatchGradient() throws {
        let batch = LossBatch(n: 6, d: 4, seed: 9)
        let result = try batch.evaluate(try LossGraph(specs: Self.specs))
        let rows = 2..<5
        var image = [Float](repeating: 0, count: rows.count * 4), text = image
        image.withUnsafeMutableBufferPointer { i in
            text.withUnsafeMutableBufferPointer { t in
                result.copyGradients(rows: rows, studentImage: i.baseAddress!, studentText: t.baseAddress!)
            }
        }
        #expect(image == Array(result.studentImageGradient[8..<20]))
        #expect(text == Array(result.studentTextGradient[8..<20]))
        #expect(result.isFinite)
    }

    @Test func arrayEvaluationChecksShapes() throws {
        let graph = try LossGraph(specs: ["inter-ss:sd:1"])
        let six = [Float](repeating: 1, count: 6)
        #expect(throws: LossGraphError.embeddingCount(name: "teacher_text", expected: 6, got: 5)) {
            _ = try graph.evaluate(studentImage: six, studentText: six, teacherImage: six,
                                   teacherText: Array(six.dropLast()), n: 3, d: 2)
        }
        #expect(throws: LossGraphError.emptyBatch(n: 0, d: 2)) {
            _ = try graph.evaluate(studentImage: [], studentText: [], teacherImage: [], teacherText: [], n: 0, d: 2)
        }
    }

    @Test func valuesDependOnlyOnTheNormalisedRows() throws {
        // Rows are L2-normalised first: rescaling any raw row by a positive
        // factor (students and teachers alike) leaves every value unchanged,
        // while moving a teacher row's direction changes the targets.
        let batch = LossBatch(n: 5, d: 4, seed: 21)
        let graph = try LossGraph(specs: EvaluationSpecs.all)
        let base = try batch.evaluate(graph).values
        var scaled = batch
        for k in 0..<(batch.n * batch.d) {
            let factor = Float(1 + k / batch.d)  // one factor per row
            scaled.studentImage[k] *= factor
            scaled.studentText[k] *= 3 * factor
            scaled.teacherImage[k] *= 0.5 * factor
            scaled.teacherText[k] *= 2 * factor
        }
        for (a, b) in zip(try scaled.evaluate(graph).values, base) {
            #expect(abs(a - b) <= 1e-5 * max(abs(b), 1e-3))
        }
        var moved = batch
        moved.teacherImage[0] += 0.5
        #expect(try moved.evaluate(try LossGraph(specs: ["intra-ts:sd:1"])).total
                != (try batch.evaluate(try LossGraph(specs: ["intra-ts:sd:1"])).total))
    }
}

/// One term of every defined pair, for tests that need them all at once.
enum EvaluationSpecs {
    static let all = definedPairs.map { "\($0.0.rawValue):\($0.1.rawValue):0.2" }
}
