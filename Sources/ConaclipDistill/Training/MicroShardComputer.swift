/// The value of every part of the loss on one batch.
public struct StepLosses: Sendable, Equatable {
    /// Unweighted task loss (0 contribution when `task_weight` is 0).
    public var task: Double
    /// Each distillation term's unweighted value, in the graph's order.
    public var terms: [Double]
    /// `task_weight * task + sum(weight * term)`.
    public var total: Double
    /// `exp(logit_scale)` as used by the task loss (clamped at 100).
    public var logitScale: Float
    /// `d total / d logit_scale` (added to the gradients after the shard sum).
    public var logitScaleGradient: Float

    public init(task: Double, terms: [Double], total: Double, logitScale: Float, logitScaleGradient: Float) {
        self.task = task; self.terms = terms; self.total = total
        self.logitScale = logitScale; self.logitScaleGradient = logitScaleGradient
    }
}

/// The micro-shard pieces of the exact step (METHOD.md, "Exact data-parallel
/// training"), shared by the single-process `DistillationStep` and the
/// distributed workers so both run one implementation and produce the same
/// bits:
///
/// - `embed(batch, rows:)`: the student towers forward on the shard's rows
///   (activations kept, batch = the shard's size) and the teacher's
///   embeddings of those rows, written into full-batch `[N, d]` buffers;
/// - `evaluateLoss(rows:)`: the task loss and the graph on the embeddings
///   of `rows` (the full batch, or one shard for shard-local negatives),
///   leaving `d total / d raw student embedding` for those rows;
/// - `backward(rows:)`: back-propagates those rows' loss gradient through
///   the retained activations, accumulating into the parameter gradients;
/// - `forwardStudent(batch, rows:)`: re-runs the student forward so that a
///   shard whose activations were overwritten can be back-propagated; it
///   reproduces the first forward bit for bit.
///
/// A distributed worker fills the full-batch buffers of other shards with
/// the gathered embeddings (`matrix(_:rows:)`) before `evaluateLoss`.
/// Buffers are reused across steps. Not thread-safe.
public final class MicroShardComputer {
    /// The four embedding matrices of a batch, `[N, d]` each.
    public enum Matrix: Int, Sendable, CaseIterable {
        case studentImage, studentText, teacherImage, teacherText
    }

    public let student: CLIPModel
    public let teacher: TeacherEmbeddingSource?
    /// The distillation terms; nil when there are none (the teacher is then not run).
    public let graph: LossGraph?
    public let taskWeight: Double
    /// The embedding width (`projection_dim`).
    public let width: Int

    private let taskLoss = ContrastiveLoss()
    private var capacity = 0
    private var buffers: [FloatBuffer] = Matrix.allCases.map { _ in FloatBuffer(count: 0) }
    private var imageGradient = FloatBuffer(count: 0)
    private var textGradient = FloatBuffer(count: 0)

    /// Refuses terms without a teacher and a teacher whose embedding width differs from the student's.
    public init(student: CLIPModel, teacher: TeacherEmbeddingSource?, terms: [LossTerm], taskWeight: Double) throws(TrainingError) {
        guard taskWeight.isFinite, taskWeight >= 0 else {
            throw .config(.invalidValue(source: "trainer", key: "loss.task_weight", reason: "must be finite and >= 0, got \(taskWeight)"))
        }
        if !terms.isEmpty {
            guard let teacher else { throw .teacher("the distillation terms need a teacher, and none is configured") }
            guard teacher.embeddingWidth == student.config.projectionDim else {
                throw .teacher("the teacher embeds into \(teacher.embeddingWidth) dimensions but the student into "
                    + "\(student.config.projectionDim); their projection_dim must match so that student-teacher similarities exist")
            }
            do { graph = try LossGraph(terms: terms) } catch { throw .lossGraph(error) }
        } else {
            graph = nil
        }
        self.student = student
        self.teacher = teacher
        self.taskWeight = taskWeight
        width = student.config.projectionDim
    }

    /// Whether the loss reads teacher embeddings (some distillation term exists).
    public var usesTeacher: Bool { graph != nil }

    /// The matrices a batch's loss reads: the student's two, and the teacher's two when `usesTeacher`.
    public var matrices: [Matrix] {
        usesTeacher ? Matrix.allCases : [.studentImage, .studentText]
    }

    /// Sizes the buffers for batches of `n` rows (no-op when they are large enough).
    public func reserve(rows n: Int) {
        guard n > capacity else { return }
        buffers = Matrix.allCases.map { _ in FloatBuffer(count: n * width) }
        imageGradient = FloatBuffer(count: n * width)
        textGradient = FloatBuffer(count: n * width)
        capacity = n
    }

    /// Rows `rows` of one embedding matrix (`rows.count * width` floats; `reserve` first).
    public func matrix(_ matrix: Matrix, rows: Range<Int>) -> UnsafeMutableBufferPointer<Float> {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= capacity, "rows \(rows) outside the reserved \(capacity)")
        return UnsafeMutableBufferPointer(start: buffers[matrix.rawValue].pointer + rows.lowerBound * width, count: rows.count * width)
    }

    /// Checks that `batch` fits the student's input sizes.
    public func checkShape(_ batch: TrainingBatch) throws(TrainingError) {
        let n = batch.count
        let perImage = student.vision.valuesPerImage, context = student.text.contextLength
        guard batch.pixels.count == n * perImage else {
            throw .batchShape("the student takes \(perImage) values per image, but the batch holds \(batch.pixels.count) for \(n) images")
        }
        guard batch.ids.count == n * context else {
            throw .batchShape("the student takes \(context) tokens per caption, but the batch holds \(batch.ids.count) for \(n) captions")
        }
    }

    /// Step 1 for one shard: the student forward on `rows` (activations
    /// kept) and, when the loss needs it, the teacher's embeddings of `rows`.
    public func embed(_ batch: TrainingBatch, rows: Range<Int>) throws(TrainingError) {
        try forwardStudent(batch, rows: rows)
        if usesTeacher, let teacher {
            try teacher.embed(batch, rows: rows, image: matrix(.teacherImage, rows: rows), text: matrix(.teacherText, rows: rows))
        }
    }

    /// The student towers forward on `rows` of `batch` (one forward of
    /// `rows.count` pairs), writing their raw embeddings and keeping the activations.
    public func forwardStudent(_ batch: TrainingBatch, rows: Range<Int>) throws(TrainingError) {
        let perImage = student.vision.valuesPerImage, context = student.text.contextLength
        let vision = student.vision, text = student.text
        let imageOut = matrix(.studentImage, rows: rows), textOut = matrix(.studentText, rows: rows)
        do {
            try batch.pixels.withUnsafeBufferPointer { (all) throws(ModelError) in
                guard let base = all.baseAddress else { return }
                try vision.forward(pixels: UnsafeBufferPointer(start: base + rows.lowerBound * perImage, count: rows.count * perImage),
                                   batch: rows.count, output: imageOut, retainActivations: true)
            }
            try batch.ids.withUnsafeBufferPointer { (all) throws(ModelError) in
                guard let base = all.baseAddress else { return }
                try text.forward(ids: UnsafeBufferPointer(start: base + rows.lowerBound * context, count: rows.count * context),
                                 batch: rows.count, output: textOut, retainActivations: true)
            }
        } catch {
            throw .model(error)
        }
    }

    /// Step 2: the task loss plus the graph on the embeddings of `rows` (the
    /// whole batch `0..<N` for global negatives, one shard for shard-local
    /// ones); writes `d total / d raw student embedding` for those rows,
    /// multiplied by `gradientScale` when it is not 1.
    public func evaluateLoss(rows: Range<Int>, gradientScale: Float = 1) throws(TrainingError) -> StepLosses {
        let n = rows.count, d = width, offset = rows.lowerBound * d
        let count = n * d
        let x = buffers[Matrix.studentImage.rawValue].pointer + offset, y = buffers[Matrix.studentText.rawValue].pointer + offset
        let gx = imageGradient.pointer + offset, gy = textGradient.pointer + offset
        var termValues: [Double] = []
        var graphTotal = 0.0
        if let graph {
            let evaluation: LossEvaluation
            do {
                evaluation = try graph.evaluate(
                    studentImage: UnsafeBufferPointer(start: x, count: count),
                    studentText: UnsafeBufferPointer(start: y, count: count),
                    teacherImage: UnsafeBufferPointer(start: buffers[Matrix.teacherImage.rawValue].pointer + offset, count: count),
                    teacherText: UnsafeBufferPointer(start: buffers[Matrix.teacherText.rawValue].pointer + offset, count: count), n: n, d: d)
            } catch { throw .lossGraph(error) }
            evaluation.copyGradients(rows: 0..<n, studentImage: gx, studentText: gy)
            termValues = evaluation.values
            graphTotal = evaluation.total
        }
        let task: ContrastiveLossResult
        do {
            task = try taskLoss.evaluate(
                image: x, text: y, rows: n, dim: d, logitScale: student.logitScale,
                gradients: ContrastiveGradientOutput(image: gx, text: gy, weight: Float(taskWeight), accumulate: graph != nil))
        } catch { throw .taskLoss(error) }
        var logitScaleGradient = task.logitScaleGradient
        if gradientScale != 1 {
            for i in 0..<count { gx[i] *= gradientScale; gy[i] *= gradientScale }
            logitScaleGradient *= gradientScale
        }
        return StepLosses(task: Double(task.loss), terms: termValues, total: taskWeight * Double(task.loss) + graphTotal,
                          logitScale: task.scale, logitScaleGradient: logitScaleGradient)
    }

    /// Step 3 for one shard: back-propagates the loss gradient of `rows`
    /// through the towers' retained activations (which must be those rows'),
    /// accumulating into the parameter gradients.
    public func backward(rows: Range<Int>) throws(TrainingError) {
        let d = width
        do {
            try student.vision.backward(dEmbeds: UnsafeBufferPointer(start: imageGradient.pointer + rows.lowerBound * d, count: rows.count * d))
            try student.text.backward(dEmbeds: UnsafeBufferPointer(start: textGradient.pointer + rows.lowerBound * d, count: rows.count * d))
        } catch {
            throw .model(error)
        }
    }
}

/// Sums micro-shard gradients in micro-shard order whatever order they
/// arrive in: `((g0 + g1) + g2) + ...`, one float add per element
/// (`MicroShardReduction.add`), the first shard copied. A shard that arrives
/// early is held (copied) until its turn. The single-process step and the
/// distributed coordinator both reduce with it, so both produce the same bits.
public final class OrderedGradientSum {
    /// Floats per gradient.
    public let count: Int
    /// Shards per step.
    public let shards: Int
    private let sum: FloatBuffer
    private var held: [Int: FloatBuffer] = [:]
    private var spare: [FloatBuffer] = []
    private var added: [Bool]
    /// The next shard to be added to the sum.
    public private(set) var next = 0

    public init(count: Int, shards: Int) {
        precondition(count >= 0 && shards >= 1, "OrderedGradientSum needs count >= 0 and shards >= 1")
        self.count = count
        self.shards = shards
        sum = FloatBuffer(count: count)
        added = Array(repeating: false, count: shards)
    }

    /// Forgets everything (the buffers are kept for the next step).
    public func reset() {
        for (_, buffer) in held { spare.append(buffer) }
        held.removeAll(keepingCapacity: true)
        for i in 0..<shards { added[i] = false }
        next = 0
    }

    /// Whether `shard`'s gradient was already given since the last reset.
    public func contains(_ shard: Int) -> Bool { added[shard] }

    /// Whether every shard is in the sum.
    public var isComplete: Bool { next == shards }

    /// Adds `shard`'s gradient (`count` floats): into the sum if it is the
    /// next one (then any held successors follow), else held until then.
    public func add(shard: Int, _ gradient: UnsafePointer<Float>) {
        precondition(shard >= 0 && shard < shards && !added[shard], "shard \(shard) given twice or outside 0..<\(shards)")
        added[shard] = true
        if shard == next {
            accumulate(gradient)
            while let buffer = held.removeValue(forKey: next) {
                accumulate(UnsafePointer(buffer.pointer))
                spare.append(buffer)
            }
        } else {
            let buffer = spare.popLast() ?? FloatBuffer(count: count)
            buffer.pointer.update(from: gradient, count: count)
            held[shard] = buffer
        }
    }

    private func accumulate(_ gradient: UnsafePointer<Float>) {
        if next == 0 {
            sum.pointer.update(from: gradient, count: count)
        } else {
            MicroShardReduction.add(gradient, into: sum.pointer, count: count)
        }
        next += 1
    }

    /// The sum (complete once `isComplete`).
    public var result: UnsafePointer<Float> { UnsafePointer(sum.pointer) }
}
