import Foundation
import Testing
@testable import ConaclipData

/// The ablation table's Markdown and CSV from recorded results.
@Suite struct AblationTableTests {
    static func grid() throws -> AblationGrid {
        let base = """
            model: m.yaml
            teacher: t
            data: {manifest: d.jsonl}
            steps: 50
            batch_size: 16
            loss: {terms: [intra-ts:infonce:0.07]}
            """
        let yaml = """
            base: base.yaml
            cells: [intra-ts:infonce:0.07, intra-ts:fd:1, inter-ts:sym-kl:0.07, inter-ts:sym-kl:0.2, intra-ss:sd:1]
            combinations: [[intra-ts:fd:1, inter-ts:sym-kl:0.07]]
            """
        return try AblationGrid.parse(yaml: yaml, source: "grid.yaml") { path throws(TrainingConfigError) in
            try TrainingConfig.parse(yaml: base, source: path)
        }
    }

    static func done(_ cell: AblationGrid.Cell, t2i: RecallAtK, i2t: RecallAtK) -> AblationRecord {
        var record = AblationRecord(cell: cell.name, terms: cell.terms.map(\.spec), digest: "d-\(cell.slug)",
                                    status: .done, attempts: 1)
        record.textToImage = t2i
        record.imageToText = i2t
        record.meanRecall = RetrievalResult(textToImage: t2i, imageToText: i2t).meanRecall
        record.evaluatedPairs = 40
        return record
    }

    @Test func markdownAndCSVShowEveryCellAgainstTheBaseline() throws {
        let grid = try Self.grid()
        let cells = Dictionary(uniqueKeysWithValues: grid.cells.map { ($0.name, $0) })
        let baseline = try #require(cells["baseline"]), fd = try #require(cells["intra-ts:fd:1.0"])
        let symKL = try #require(cells["inter-ts:sym-kl:0.07"]), symKL2 = try #require(cells["inter-ts:sym-kl:0.2"])
        let sd = try #require(cells["intra-ss:sd:1.0"])
        var records: [String: AblationRecord] = [:]
        records[baseline.slug] = Self.done(baseline, t2i: RecallAtK(r1: 10, r5: 20, r10: 30), i2t: RecallAtK(r1: 10, r5: 20, r10: 30))
        records[fd.slug] = Self.done(fd, t2i: RecallAtK(r1: 12, r5: 24, r10: 36), i2t: RecallAtK(r1: 12, r5: 24, r10: 36))
        records[symKL.slug] = Self.done(symKL, t2i: RecallAtK(r1: 9, r5: 18, r10: 27), i2t: RecallAtK(r1: 9, r5: 18, r10: 27))
        records[symKL2.slug] = AblationRecord(cell: symKL2.name, terms: [], digest: "x", status: .started, attempts: 1)
        records[sd.slug] = AblationRecord(cell: sd.name, terms: [], digest: "y", status: .failed, attempts: 2)
        let table = AblationTable(grid: grid, records: records)

        let markdown = table.markdown()
        #expect(markdown.contains("| interaction type | InfoNCE | FD | SD | KL-Div | Sym-SD | Sym-KL-Div |"))
        #expect(markdown.contains("| baseline | 20.00 | 20.00 | 20.00 | 20.00 | 20.00 | 20.00 |"))
        // intra-ts: InfoNCE is the baseline itself, FD is +4; undefined pairs are said to be.
        #expect(markdown.contains("| intra-ts | 20.00 (baseline) | 24.00 (+4.00) |  |  |  |  |"), "\(markdown)")
        #expect(markdown.contains("| intra-ss | undefined | undefined | failed |  |  |  |"), "\(markdown)")
        // Two temperatures of one pair share a matrix entry.
        #expect(markdown.contains("tau 0.07: 18.00 (-2.00)<br>tau 0.2: unfinished"), "\(markdown)")
        #expect(markdown.contains("| + `intra-ts:fd:1.0` | 12.00 | 24.00 | 36.00 | 12.00 | 24.00 | 36.00 | 24.00 | +4.00 | done |"))
        #expect(markdown.contains("| + `intra-ts:fd:1.0 + inter-ts:sym-kl:0.07` |  |  |  |  |  |  |  |  | not run |"))
        #expect(markdown.contains("| + `intra-ts:infonce:0.07` | 10.00 | 20.00 | 30.00 | 10.00 | 20.00 | 30.00 | 20.00 |  | same as baseline |"))
        #expect(markdown.contains("50 steps of 16 pairs") && markdown.contains("split val (40 pairs)"))

        let csv = table.csv().split(separator: "\n").map(String.init)
        #expect(csv.count == 1 + grid.cells.count)
        #expect(csv[0].hasPrefix("cell,type,strategy,tau,weight,terms,status,t2i_r1"))
        #expect(csv[0].split(separator: ",").count == 17)
        #expect(csv.allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == 17 })
        #expect(csv.contains("baseline,,,,,,done,10.0000,20.0000,30.0000,10.0000,20.0000,30.0000,20.0000,0.0000,40,d-baseline"))
        #expect(csv.contains("intra-ts:fd:1.0,intra-ts,fd,1.0,1.0,intra-ts:fd:1.0,done,12.0000,24.0000,36.0000,12.0000,24.0000,36.0000,24.0000,4.0000,40,d-intra-ts_fd_1.0"))
        #expect(csv.contains("intra-ss:sd:1.0,intra-ss,sd,1.0,1.0,intra-ss:sd:1.0,failed,,,,,,,,,,y"))
        #expect(csv.contains { $0.hasPrefix("intra-ts:infonce:0.07,intra-ts,infonce,0.07,1.0,intra-ts:infonce:0.07,same as baseline,10.0000") })
    }

    @Test func recordsRoundTripThroughJSON() throws {
        let grid = try Self.grid()
        var record = Self.done(grid.cells[2], t2i: RecallAtK(r1: 1, r5: 2, r10: 3), i2t: RecallAtK(r1: 4, r5: 5, r10: 6))
        record.parameterSHA256 = "abc"
        record.model = "runs/x/final"
        let data = try JSONEncoder().encode(record)
        #expect(try JSONDecoder().decode(AblationRecord.self, from: data) == record)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys).isSuperset(of: ["cell", "digest", "status", "t2i", "i2t", "mean_recall", "parameter_sha256"]))
    }
}
