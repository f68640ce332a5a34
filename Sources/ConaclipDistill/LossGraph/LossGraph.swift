/// The ConaCLIP distillation loss: a set of weighted terms over the knowledge
/// interaction graph, evaluated with analytic gradients w.r.t. the raw
/// student embeddings (METHOD.md, "Canonical definitions").
///
/// Inputs are the raw [n, d] student_image X, student_text Y, teacher_image A
/// and teacher_text B; rows are L2-normalised first, teachers are constants.
/// Similarity matrices are computed once per batch with BLAS and shared by
/// all terms; each term's gradient is accumulated into one gradient matrix
/// per student similarity matrix, chained back to X and Y with BLAS and then
/// through the normalisation. Workspaces are allocated on first use and grown
/// only when n or d grow, so a training loop does not allocate per step.
///
/// The gradients cover all n rows: a data-parallel worker evaluates the
/// gathered full batch and keeps its own rows (METHOD.md, last section).
/// A graph is not thread-safe; use one per worker.
public final class LossGraph {
    /// The terms, in the order their values are reported.
    public let terms: [LossTerm]
    private let neededStudent: [Bool]
    private let neededTeacher: [Bool]
    private let workspace = LossWorkspace()
    private var values: [Double]
    private var imageGradient = FloatBuffer(count: 0)
    private var textGradient = FloatBuffer(count: 0)

    /// A graph over `terms` (may be empty: the total is then 0). Undefined
    /// (type, strategy) pairs are refused here.
    public init(terms: [LossTerm]) throws(LossGraphError) {
        var student = [Bool](repeating: false, count: StudentMatrix.allCases.count)
        var teacher = [Bool](repeating: false, count: TeacherMatrix.allCases.count)
        for term in terms {
            if let reason = term.strategy.refusal(on: term.type) {
                throw .undefinedPair(type: term.type, strategy: term.strategy, reason: reason)
            }
            switch term.strategy {
            case .fd:
                break
            case .infonce, .sd, .kl:
                for edge in StandardEdge.edges(of: term.type) {
                    student[edge.student.rawValue] = true
                    if term.strategy != .infonce { teacher[edge.teacher.rawValue] = true }
                }
            case .symSD, .symKL:
                guard let pair = MirrorPair.pair(of: term.type) else {
                    throw .undefinedPair(type: term.type, strategy: term.strategy, reason: "no mirror pair")
                }
                student[pair.a.rawValue] = true
                student[pair.b.rawValue] = true
            }
        }
        self.terms = terms
        neededStudent = student
        neededTeacher = teacher
        values = [Double](repeating: 0, count: terms.count)
    }

    /// Parses each spec (`TYPE:STRATEGY:TAU[:WEIGHT]`) and builds the graph.
    public convenience init(specs: [String]) throws(LossGraphError) {
        var terms: [LossTerm] = []
        for spec in specs { terms.append(try LossTerm(spec: spec)) }
        try self.init(terms: terms)
    }

    /// Evaluates every term on one batch of raw [n, d] row-major embeddings
    /// (each buffer must hold exactly `n * d` floats). The returned gradients
    /// are w.r.t. the raw student embeddings, for all n rows.
    public func evaluate(
        studentImage: UnsafeBufferPointer<Float>, studentText: UnsafeBufferPointer<Float>,
        teacherImage: UnsafeBufferPointer<Float>, teacherText: UnsafeBufferPointer<Float>,
        n: Int, d: Int
    ) throws(LossGraphError) -> LossEvaluation {
        guard n > 0, d > 0 else { throw .emptyBatch(n: n, d: d) }
        var pointers: [UnsafePointer<Float>] = []
        for (name, buffer) in [("student_image", studentImage), ("student_text", studentText),
                               ("teacher_image", teacherImage), ("teacher_text", teacherText)] {
            guard buffer.count == n * d, let base = buffer.baseAddress else {
                throw .embeddingCount(name: name, expected: n * d, got: buffer.count)
            }
            pointers.append(base)
        }
        return evaluate(raw: pointers, n: n, d: d)
    }

    /// Evaluates on arrays of raw [n, d] row-major embeddings, `n * d` values each.
    public func evaluate(
        studentImage: [Float], studentText: [Float], teacherImage: [Float], teacherText: [Float],
        n: Int, d: Int
    ) throws(LossGraphError) -> LossEvaluation {
        let result: Result<LossEvaluation, LossGraphError> = studentImage.withUnsafeBufferPointer { x in
            studentText.withUnsafeBufferPointer { y in
                teacherImage.withUnsafeBufferPointer { a in
                    teacherText.withUnsafeBufferPointer { b in
                        Result { () throws(LossGraphError) in
                            try evaluate(studentImage: x, studentText: y, teacherImage: a, teacherText: b, n: n, d: d)
                        }
                    }
                }
            }
        }
        return try result.get()
    }

    /// The evaluation proper; `raw` holds X, Y, A, B ([n, d] each, checked).
    private func evaluate(raw: [UnsafePointer<Float>], n: Int, d: Int) -> LossEvaluation {
        let ws = workspace
        ws.reserve(n: n, d: d, student: neededStudent, teacher: neededTeacher)
        if !isKnownUniquelyReferenced(&imageGradient) || imageGradient.count < n * d {
            imageGradient = FloatBuffer(count: n * d)
        }
        if !isKnownUniquelyReferenced(&textGradient) || textGradient.count < n * d {
            textGradient = FloatBuffer(count: n * d)
        }

        // Normalise rows; embeddings[Embedding.rawValue] holds X, Y, A, B.
        for e in Embedding.allCases {
            SimilarityKernels.normalizeRows(
                x: raw[e.rawValue], rows: n, cols: d,
                y: ws.embeddings[e.rawValue].pointer, norms: ws.norms[e.rawValue].pointer)
        }
        // Similarity matrices M = P Q^T, and zeroed gradient accumulators.
        for m in StudentMatrix.allCases where neededStudent[m.rawValue] {
            product(m.operands, into: ws.studentMatrices[m.rawValue].pointer, n: n, d: d)
            ws.studentGradients[m.rawValue].pointer.update(repeating: 0, count: n * n)
        }
        for t in TeacherMatrix.allCases where neededTeacher[t.rawValue] {
            product(t.operands, into: ws.teacherMatrices[t.rawValue].pointer, n: n, d: d)
        }
        for e in [Embedding.x, .y] { ws.embeddingGradients[e.rawValue].pointer.update(repeating: 0, count: n * d) }

        var total = 0.0
        for (index, term) in terms.enumerated() {
            let factor = term.klTauSquared ? term.tau * term.tau : 1
            let value = factor * evaluateTerm(term, scale: term.weight * factor, n: n, d: d)
            values[index] = value
            total += term.weight * value
        }

        // Chain each similarity gradient G (for M = P Q^T) to the normalised
        // students: dP += G Q, and when Q is a student too, dQ += G^T P.
        for m in StudentMatrix.allCases where neededStudent[m.rawValue] {
            let (p, q) = m.operands
            let g = UnsafePointer(ws.studentGradients[m.rawValue].pointer)
            BLAS.gemm(transA: false, transB: false, m: n, n: d, k: n,
                      a: g, lda: n, b: ws.embeddings[q.rawValue].pointer, ldb: d,
                      beta: 1, c: ws.embeddingGradients[p.rawValue].pointer, ldc: d)
            if q.isStudent {
                BLAS.gemm(transA: true, transB: false, m: n, n: d, k: n,
                          a: g, lda: n, b: ws.embeddings[p.rawValue].pointer, ldb: d,
                          beta: 1, c: ws.embeddingGradients[q.rawValue].pointer, ldc: d)
            }
        }
        // Through the L2 normalisation to the raw embeddings.
        for (e, out) in [(Embedding.x, imageGradient), (.y, textGradient)] {
            SimilarityKernels.normalizeBackward(
                dy: ws.embeddingGradients[e.rawValue].pointer, y: ws.embeddings[e.rawValue].pointer,
                norms: ws.norms[e.rawValue].pointer, rows: n, cols: d, dx: out.pointer)
        }
        return LossEvaluation(terms: terms, values: values, total: total, n: n, d: d,
                              imageGradient: imageGradient, textGradient: textGradient)
    }

    // MARK: - Terms

    /// One term's value; adds `scale` times its gradient to the workspace.
    private func evaluateTerm(_ term: LossTerm, scale: Double, n: Int, d: Int) -> Double {
        let ws = workspace
        let rowA = ws.rowA.pointer, rowB = ws.rowB.pointer
        switch term.strategy {
        case .fd:
            var value = 0.0
            for edge in StandardEdge.edges(of: term.type) {
                let (p, q) = edge.student.operands
                value += SimilarityKernels.featureDistance(
                    ws.embeddings[p.rawValue].pointer, ws.embeddings[q.rawValue].pointer,
                    gradientP: ws.embeddingGradients[p.rawValue].pointer,
                    gradientQ: q.isStudent ? ws.embeddingGradients[q.rawValue].pointer : nil,
                    n: n, d: d, scale: scale)
            }
            return value
        case .infonce, .sd, .kl:
            var value = 0.0
            for edge in StandardEdge.edges(of: term.type) {
                let m = ws.studentView(edge.student, n: n)
                let g = ws.gradientView(edge.student, n: n)
                switch term.strategy {
                case .infonce:
                    value += 0.5 * SimilarityKernels.crossEntropyRows(
                        m, gradient: g, n: n, tau: term.tau, scale: 0.5 * scale, rowA: rowA)
                    value += 0.5 * SimilarityKernels.crossEntropyRows(
                        m.transposed, gradient: g.transposed, n: n, tau: term.tau, scale: 0.5 * scale, rowA: rowA)
                case .sd:
                    let t = ws.teacherView(edge.teacher, n: n).transposed(if: edge.teacherTransposed)
                    value += SimilarityKernels.squaredDistance(m, t, gradientM: g, gradientT: nil, n: n, scale: scale)
                default:
                    let t = ws.teacherView(edge.teacher, n: n).transposed(if: edge.teacherTransposed)
                    value += 0.5 * SimilarityKernels.klRows(
                        teacher: t, student: m, gradient: g, n: n, tau: term.tau, scale: 0.5 * scale,
                        rowA: rowA, rowB: rowB)
                    value += 0.5 * SimilarityKernels.klRows(
                        teacher: t.transposed, student: m.transposed, gradient: g.transposed,
                        n: n, tau: term.tau, scale: 0.5 * scale, rowA: rowA, rowB: rowB)
                }
            }
            return value
        case .symSD, .symKL:
            guard let pair = MirrorPair.pair(of: term.type) else { return 0 }  // refused at init
            let ma = ws.studentView(pair.a, n: n), ga = ws.gradientView(pair.a, n: n)
            let mb = ws.studentView(pair.b, n: n).transposed(if: pair.bTransposed)
            let gb = ws.gradientView(pair.b, n: n).transposed(if: pair.bTransposed)
            if term.strategy == .symSD {
                return SimilarityKernels.squaredDistance(ma, mb, gradientM: ga, gradientT: gb, n: n, scale: scale)
            }
            let rows = SimilarityKernels.symmetricKLRows(
                ma, mb, gradientU: ga, gradientV: gb, n: n, tau: term.tau, scale: 0.5 * scale,
                rowA: rowA, rowB: rowB)
            let cols = SimilarityKernels.symmetricKLRows(
                ma.transposed, mb.transposed, gradientU: ga.transposed, gradientV: gb.transposed,
                n: n, tau: term.tau, scale: 0.5 * scale, rowA: rowA, rowB: rowB)
            return 0.5 * (rows + cols)
        }
    }

    /// `out = P Q^T` for normalised operands (n x n).
    private func product(_ operands: (Embedding, Embedding), into out: UnsafeMutablePointer<Float>, n: Int, d: Int) {
        let ws = workspace
        BLAS.gemm(transA: false, transB: true, m: n, n: n, k: d,
                  a: ws.embeddings[operands.0.rawValue].pointer, lda: d,
                  b: ws.embeddings[operands.1.rawValue].pointer, ldb: d,
                  c: out, ldc: n)
    }
}

// MARK: - Graph structure (METHOD.md, "Canonical definitions")

/// The L2-normalised inputs: X = S_I, Y = S_T, A = T_I, B = T_T.
enum Embedding: Int, CaseIterable {
    case x, y, a, b
    var isStudent: Bool { self == .x || self == .y }
}

/// The student similarity matrices a term can use, M = P Q^T.
enum StudentMatrix: Int, CaseIterable {
    case xa, yb, xx, yy, xb, ya, xy
    var operands: (Embedding, Embedding) {
        switch self {
        case .xa: return (.x, .a)
        case .yb: return (.y, .b)
        case .xx: return (.x, .x)
        case .yy: return (.y, .y)
        case .xb: return (.x, .b)
        case .ya: return (.y, .a)
        case .xy: return (.x, .y)
        }
    }
}

/// The teacher similarity matrices (targets, constants). B A^T is read as
/// the transpose of A B^T.
enum TeacherMatrix: Int, CaseIterable {
    case aa, bb, ab
    var operands: (Embedding, Embedding) {
        switch self {
        case .aa: return (.a, .a)
        case .bb: return (.b, .b)
        case .ab: return (.a, .b)
        }
    }
}

/// One edge (P, Q, teacher target) of an interaction type.
struct StandardEdge {
    let student: StudentMatrix
    let teacher: TeacherMatrix
    let teacherTransposed: Bool

    /// intra-ts: (X, A, AA^T), (Y, B, BB^T); intra-ss: (X, X, AA^T), (Y, Y, BB^T);
    /// inter-ts: (X, B, AB^T), (Y, A, BA^T); inter-ss: (X, Y, AB^T).
    static func edges(of type: InteractionType) -> [StandardEdge] {
        switch type {
        case .intraTS:
            return [StandardEdge(student: .xa, teacher: .aa, teacherTransposed: false),
                    StandardEdge(student: .yb, teacher: .bb, teacherTransposed: false)]
        case .intraSS:
            return [StandardEdge(student: .xx, teacher: .aa, teacherTransposed: false),
                    StandardEdge(student: .yy, teacher: .bb, teacherTransposed: false)]
        case .interTS:
            return [StandardEdge(student: .xb, teacher: .ab, teacherTransposed: false),
                    StandardEdge(student: .ya, teacher: .ab, teacherTransposed: true)]
        case .interSS:
            return [StandardEdge(student: .xy, teacher: .ab, teacherTransposed: false)]
        }
    }
}

/// The two mirror matrices (Ma, Mb) a sym-* strategy pulls together.
struct MirrorPair {
    let a: StudentMatrix
    let b: StudentMatrix
    /// Mb is the transpose of the stored matrix `b` (inter-ts: A Y^T = (Y A^T)^T).
    let bTransposed: Bool

    /// intra-ts: (X A^T, Y B^T); inter-ts: (X B^T, A Y^T); intra-ss: (X X^T, Y Y^T); inter-ss: none.
    static func pair(of type: InteractionType) -> MirrorPair? {
        switch type {
        case .intraTS: return MirrorPair(a: .xa, b: .yb, bTransposed: false)
        case .interTS: return MirrorPair(a: .xb, b: .ya, bTransposed: true)
        case .intraSS: return MirrorPair(a: .xx, b: .yy, bTransposed: false)
        case .interSS: return nil
        }
    }
}
