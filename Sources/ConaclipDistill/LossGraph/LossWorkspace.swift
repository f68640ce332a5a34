/// Double-precision scratch storage with a stable address (one row of
/// log-probabilities in the loss kernels).
final class DoubleBuffer {
    let count: Int
    let pointer: UnsafeMutablePointer<Double>

    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    deinit { pointer.deallocate() }
}

/// The buffers one `LossGraph` reuses across evaluations: the normalised
/// embeddings and their norms, the similarity matrices the terms need, one
/// gradient matrix per student similarity matrix, the gradients w.r.t. the
/// normalised students, and two scratch rows. Grown only when n or d grow.
final class LossWorkspace {
    private(set) var capacityN = 0
    private(set) var capacityD = 0
    var embeddings: [FloatBuffer] = []
    var norms: [FloatBuffer] = []
    var embeddingGradients: [FloatBuffer] = []
    var studentMatrices: [FloatBuffer] = []
    var studentGradients: [FloatBuffer] = []
    var teacherMatrices: [FloatBuffer] = []
    var rowA = DoubleBuffer(count: 0)
    var rowB = DoubleBuffer(count: 0)
    private var allocatedStudent: [Bool] = []
    private var allocatedTeacher: [Bool] = []

    /// Makes every buffer large enough for (n, d) and the needed matrices.
    func reserve(n: Int, d: Int, student: [Bool], teacher: [Bool]) {
        let grow = n > capacityN || d > capacityD
        if grow {
            capacityN = max(n, capacityN)
            capacityD = max(d, capacityD)
            let nd = capacityN * capacityD
            embeddings = Embedding.allCases.map { _ in FloatBuffer(count: nd) }
            norms = Embedding.allCases.map { _ in FloatBuffer(count: capacityN) }
            embeddingGradients = Embedding.allCases.map { _ in FloatBuffer(count: nd) }
            rowA = DoubleBuffer(count: capacityN)
            rowB = DoubleBuffer(count: capacityN)
        }
        if grow || allocatedStudent != student || allocatedTeacher != teacher {
            let nn = capacityN * capacityN
            studentMatrices = student.map { FloatBuffer(count: $0 ? nn : 0) }
            studentGradients = student.map { FloatBuffer(count: $0 ? nn : 0) }
            teacherMatrices = teacher.map { FloatBuffer(count: $0 ? nn : 0) }
            allocatedStudent = student
            allocatedTeacher = teacher
        }
    }

    func studentView(_ m: StudentMatrix, n: Int) -> MatrixView { MatrixView(studentMatrices[m.rawValue].pointer, n: n) }
    func gradientView(_ m: StudentMatrix, n: Int) -> MatrixView { MatrixView(studentGradients[m.rawValue].pointer, n: n) }
    func teacherView(_ t: TeacherMatrix, n: Int) -> MatrixView { MatrixView(teacherMatrices[t.rawValue].pointer, n: n) }
}
