import Foundation

/// What `conaclip ablate` records about one cell, in `DIR/results/SLUG.json`:
/// the digest it was run under, whether it finished, and its recalls.
public struct AblationRecord: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        /// Training was started (and may have been interrupted): the next invocation resumes it.
        case started
        /// Trained and evaluated; not rerun while the digest stays the same.
        case done
        /// Training or evaluation failed; the next invocation tries again.
        case failed
    }

    public var cell: String
    /// The specs of the terms added to the baseline.
    public var terms: [String]
    /// `AblationGrid.digest(for:inputsDigest:)` of the run.
    public var digest: String
    public var status: Status
    /// How many times training was started for this digest.
    public var attempts: Int
    public var textToImage: RecallAtK?
    public var imageToText: RecallAtK?
    public var meanRecall: Double?
    /// Pairs the recalls were computed over.
    public var evaluatedPairs: Int?
    /// The trained model directory.
    public var model: String?
    /// SHA-256 of the trained float32 weights (as `conaclip train` prints it).
    public var parameterSHA256: String?
    /// Why the cell failed (with the log to read).
    public var failure: String?

    public init(cell: String, terms: [String], digest: String, status: Status, attempts: Int) {
        self.cell = cell; self.terms = terms; self.digest = digest; self.status = status; self.attempts = attempts
    }

    enum CodingKeys: String, CodingKey {
        case cell, terms, digest, status, attempts, model, failure
        case textToImage = "t2i", imageToText = "i2t", meanRecall = "mean_recall"
        case evaluatedPairs = "evaluated_pairs", parameterSHA256 = "parameter_sha256"
    }
}

/// The ablation table, like the paper's Table 1: mean recall of every
/// single-term cell by interaction type (rows) and strategy (columns), with
/// its change against the baseline, then every run's R@1/5/10 in both
/// directions. As Markdown for people and CSV for tools.
public struct AblationTable {
    public let grid: AblationGrid
    /// Records by cell slug (a cell identical to the baseline uses the baseline's).
    public let records: [String: AblationRecord]

    public init(grid: AblationGrid, records: [String: AblationRecord]) {
        self.grid = grid
        self.records = records
    }

    /// The strategies' names as the paper writes them.
    public static func displayName(_ strategy: SupervisionStrategy) -> String {
        switch strategy {
        case .infonce: return "InfoNCE"
        case .fd: return "FD"
        case .sd: return "SD"
        case .kl: return "KL-Div"
        case .symSD: return "Sym-SD"
        case .symKL: return "Sym-KL-Div"
        }
    }

    /// The record that holds `cell`'s numbers.
    public func record(for cell: AblationGrid.Cell) -> AblationRecord? {
        records[grid.runningCell(for: cell).slug]
    }

    /// Mean recall of a finished cell.
    public func meanRecall(_ cell: AblationGrid.Cell) -> Double? {
        guard let record = record(for: cell), record.status == .done else { return nil }
        return record.meanRecall
    }

    var baselineMean: Double? { grid.cells.first.flatMap(meanRecall) }

    /// "not run", "running/interrupted" or "failed" for a cell without numbers.
    func state(_ cell: AblationGrid.Cell) -> String {
        switch record(for: cell)?.status {
        case nil: return "not run"
        case .started?: return "unfinished"
        case .failed?: return "failed"
        case .done?: return "done"
        }
    }

    /// A recall with two decimals.
    public static func format(_ value: Double) -> String { String(format: "%.2f", value) }

    /// A change with its sign and two decimals.
    public static func signed(_ value: Double) -> String {
        let text = String(format: "%+.2f", value)
        return text == "-0.00" ? "+0.00" : text
    }

    /// A matrix entry: "mean (delta)", "= baseline", or the state.
    func entry(_ cell: AblationGrid.Cell) -> String {
        guard let mean = meanRecall(cell) else { return state(cell) }
        if cell.isSameAsBaseline { return "\(Self.format(mean)) (baseline)" }
        guard let base = baselineMean else { return Self.format(mean) }
        return "\(Self.format(mean)) (\(Self.signed(mean - base)))"
    }

    /// Markdown: a heading line, the set-up, the type x strategy matrix of
    /// mean recall, and the detail table of every cell.
    public func markdown() -> String {
        var lines: [String] = []
        let config = grid.config(for: grid.cells[0])
        lines.append("# Ablation: \(grid.source)")
        lines.append("")
        var setup = "Base config `\(grid.basePath)`; baseline loss: task x \(Self.format(grid.baseline.taskWeight))"
        setup += grid.baseline.terms.map { " + `\($0.spec)`" }.joined()
        switch config.duration {
        case let .steps(n): setup += "; \(n) steps"
        case let .epochs(n): setup += "; \(n) epochs"
        }
        setup += " of \(config.batchSize) pairs, seed \(config.seed). "
        switch grid.evaluation.data {
        case let .manifest(path, split, _): setup += "Evaluated on `\(path)`, split \(split ?? "all")"
        case let .synthetic(pairs, seed): setup += "Evaluated on \(pairs) synthetic shapes (seed \(seed))"
        }
        if let pairs = records[grid.cells[0].slug]?.evaluatedPairs { setup += " (\(pairs) pairs)" }
        setup += ". Mean recall is the mean of text-to-image and image-to-text R@1, R@5 and R@10, in percent; "
            + "in brackets, the change against the baseline."
        lines.append(setup)
        lines.append("")

        // Matrix of one-term cells.
        let singles = grid.cells.dropFirst().compactMap { cell in cell.single.map { (cell, $0) } }
        let types = InteractionType.allCases.filter { type in singles.contains { $0.1.type == type } }
        if !types.isEmpty {
            lines.append("## Mean recall by interaction type and strategy (baseline + one term)")
            lines.append("")
            let strategies = SupervisionStrategy.allCases
            lines.append("| interaction type | " + strategies.map(Self.displayName).joined(separator: " | ") + " |")
            lines.append("|---|" + strategies.map { _ in "---:" }.joined(separator: "|") + "|")
            if let base = baselineMean {
                lines.append("| baseline | " + strategies.map { _ in Self.format(base) }.joined(separator: " | ") + " |")
            }
            for type in types {
                var row = ["\(type.rawValue)"]
                for strategy in strategies {
                    if !strategy.isDefined(on: type) {
                        row.append("undefined")
                        continue
                    }
                    let matches = singles.filter { $0.1.type == type && $0.1.strategy == strategy }
                    switch matches.count {
                    case 0: row.append("")
                    case 1: row.append(entry(matches[0].0))
                    default:
                        row.append(matches.map { "tau \($0.1.tau): \(entry($0.0))" }.joined(separator: "<br>"))
                    }
                }
                lines.append("| " + row.joined(separator: " | ") + " |")
            }
            lines.append("")
        }

        lines.append("## Every run")
        lines.append("")
        lines.append("| cell | T->I R@1 | T->I R@5 | T->I R@10 | I->T R@1 | I->T R@5 | I->T R@10 | mean recall | vs baseline | status |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for cell in grid.cells {
            let name = cell.isBaseline ? "baseline" : "+ `\(cell.name)`"
            if let record = record(for: cell), record.status == .done,
               let t2i = record.textToImage, let i2t = record.imageToText, let mean = record.meanRecall {
                let delta = cell.isBaseline || cell.isSameAsBaseline ? "" : baselineMean.map { Self.signed(mean - $0) } ?? ""
                let recalls = [t2i.r1, t2i.r5, t2i.r10, i2t.r1, i2t.r5, i2t.r10].map(Self.format)
                let status = cell.isSameAsBaseline && !cell.isBaseline ? "same as baseline" : "done"
                lines.append("| \(name) | " + recalls.joined(separator: " | ") + " | \(Self.format(mean)) | \(delta) | \(status) |")
            } else {
                lines.append("| \(name) |  |  |  |  |  |  |  |  | \(state(cell)) |")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// CSV with a header: one line per cell (the baseline first).
    public func csv() -> String {
        var lines = ["cell,type,strategy,tau,weight,terms,status,t2i_r1,t2i_r5,t2i_r10,i2t_r1,i2t_r5,i2t_r10,"
            + "mean_recall,delta_mean_recall,evaluated_pairs,digest"]
        for cell in grid.cells {
            var fields = [cell.name]
            if let term = cell.single {
                fields += [term.type.rawValue, term.strategy.rawValue, "\(term.tau)", "\(term.weight)"]
            } else {
                fields += ["", "", "", ""]
            }
            fields.append(cell.terms.map(\.spec).joined(separator: " + "))
            let record = record(for: cell)
            fields.append(cell.isSameAsBaseline && !cell.isBaseline && record?.status == .done ? "same as baseline" : state(cell))
            if let record, record.status == .done, let t2i = record.textToImage, let i2t = record.imageToText,
               let mean = record.meanRecall {
                fields += [t2i.r1, t2i.r5, t2i.r10, i2t.r1, i2t.r5, i2t.r10, mean].map { String(format: "%.4f", $0) }
                fields.append(baselineMean.map { String(format: "%.4f", mean - $0) } ?? "")
                fields.append(record.evaluatedPairs.map(String.init) ?? "")
            } else {
                fields += Array(repeating: "", count: 9)
            }
            fields.append(record?.digest ?? "")
            lines.append(fields.map(Self.csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
