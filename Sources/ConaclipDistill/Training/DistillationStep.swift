/// One exact optimisation step of ConaCLIP distillation (or of plain CLIP
/// pre-training when there is no teacher) on one global batch, computed the
/// way the distributed trainer computes it (METHOD.md, "Exact data-parallel
/// training"), but in one process:
///
/// 1. Embed: for each micro-shard in order, the student towers run forward
///    on the shard's rows (activations kept) and the teacher source gives the
///    shard's teacher embeddings; rows land in full-batch `[N, d]` buffers.
/// 2. Loss: on the FULL batch, once: the task loss (inter-ss symmetric
///    InfoNCE with the learnable logit scale, weight `task_weight`) plus the
///    `LossGraph` terms, giving the gradient of the total with respect to
///    every raw student embedding row, and the logit-scale gradient.
/// 3. Backward: each micro-shard's parameter gradient is computed on its own
///    (gradients zeroed, the shard's rows back-propagated), and the shard
///    gradients are summed in micro-shard order: `g = ((g0 + g1) + g2) + ...`.
///    The full-batch logit-scale gradient (a loss-level quantity every
///    worker computes identically) is added after the sum.
/// 4. Global-norm clipping, then AdamW with the scheduled learning rate.
///
/// Activations: the towers keep one batch of activations, so only the LAST
/// micro-shard's activations survive step 1. That shard is back-propagated
/// first and its gradient held aside; every other shard is re-run forward
/// (bit-identical to its first forward) right before its backward. With one
/// micro-shard nothing is recomputed; with K shards the student pays
/// (K - 1)/K of an extra forward, and peak activation memory is one shard's,
/// so micro-shards double as gradient accumulation for memory.
///
/// Each shard's gradient depends only on the weights and the shard's rows
/// and the sum order is fixed, so the result is bit-identical run to run for
/// a given `micro_shards`, and equal up to float summation order for another.
/// Buffers are reused; a step at a batch size seen before allocates nothing
/// but the loss graph's small result arrays. Not thread-safe.
public final class DistillationStep {
    public let student: CLIPModel
    public let teacher: TeacherEmbeddingSource?
    /// The distillation terms; nil when there are none (the teacher is then not run).
    public let graph: LossGraph?
    public let taskWeight: Double
    public let microShards: Int
    public let optimizer: AdamW
    /// Global-norm clipping threshold (`.infinity` only measures).
    public let maxGradientNorm: Double

    private let taskLoss = ContrastiveLoss()
    private let d: Int
    private var capacity = 0
    private var studentImage = FloatBuffer(count: 0)
    private var studentText = FloatBuffer(count: 0)
    private var teacherImage = FloatBuffer(count: 0)
    private var teacherText = FloatBuffer(count: 0)
    private var imageGradient = FloatBuffer(count: 0)
    private var textGradient = FloatBuffer(count: 0)
    /// Shard-gradient sum and the held gradient of the last shard (K > 1 only).
    private var gradientSum = FloatBuffer(count: 0)
    private var lastShardGradient = FloatBuffer(count: 0)

    /// The value of every part of the loss on one batch.
    public struct Losses: Sendable, Equatable {
        /// Unweighted task loss (0 contribution when `task_weight` is 0).
        public var task: Double
        /// Each distillation term's unweighted value, in the graph's order.
        public var terms: [Double]
        /// `task_weight * task + sum(weight * term)`.
        public var total: Double
        /// `exp(logit_scale)` as used by the task loss (clamped at 100).
        public var logitScale: Float
        /// `d total / d logit_scale` (already included in the gradients).
        public var logitScaleGradient: Float
    }

    /// Wall-clock split of one step, in seconds.
    public struct Timing: Sendable, Equatable {
        /// Student and teacher forward passes of step 1.
        public var embed: Double = 0
        public var loss: Double = 0
        /// Re-forwards and backward passes.
        public var backward: Double = 0
        /// Clipping and AdamW.
        public var optimizer: Double = 0
        public var total: Double { embed + loss + backward + optimizer }
    }

    /// What one step measured.
    public struct Outcome: Sendable, Equatable {
        public var losses: Losses
        /// Global gradient norm before clipping.
        public var gradientNorm: Double
        public var learningRate: Double
        public var timing: Timing
    }

    /// A step for `student` distilled from `teacher` with `terms` (both may be
    /// absent: plain CLIP training). Refuses terms without a teacher, a
    /// teacher whose embedding width differs from the student's, and a
    /// micro-shard count below 1.
    public init(student: CLIPModel, teacher: TeacherEmbeddingSource?, terms: [LossTerm], taskWeight: Double,
                microShards: Int, optimizer: AdamWConfig, maxGradientNorm: Double) throws(TrainingError) {
        guard microShards >= 1 else { throw .config(.invalidValue(source: "trainer", key: "micro_shards", reason: "must be >= 1, got \(microShards)")) }
        guard taskWeight.isFinite, taskWeight >= 0 else {
            throw .config(.invalidValue(source: "trainer", key: "loss.task_weight", reason: "must be finite and >= 0, got \(taskWeight)"))
        }
        guard maxGradientNorm > 0 else { throw .clipping(.invalidMaxNorm(maxGradientNorm)) }
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
        self.microShards = microShards
        self.optimizer = AdamW(store: student.parameters, config: optimizer)
        self.maxGradientNorm = maxGradientNorm
        d = student.config.projectionDim
    }

    /// Runs steps 1-4 on `batch` with `learningRate`; `stepIndex` only names
    /// the step in errors. A non-finite loss or gradient throws before the
    /// weights change.
    public func step(_ batch: TrainingBatch, stepIndex: Int, learningRate: Double) throws(TrainingError) -> Outcome {
        var timing = Timing()
        let losses = try computeGradients(batch, stepIndex: stepIndex, timing: &timing)
        var clock = StepClock()
        let report: GradientNormReport
        do { report = try GradientClipping.clipGlobalNorm(student.parameters, maxNorm: maxGradientNorm) } catch { throw .clipping(error) }
        guard report.isFinite else { throw .nonFiniteGradient(step: stepIndex, norm: report.norm) }
        do { try optimizer.step(learningRate: learningRate) } catch { throw .optimizer(error) }
        timing.optimizer = clock.lap()
        return Outcome(losses: losses, gradientNorm: report.norm, learningRate: learningRate, timing: timing)
    }

    /// Steps 1-3: leaves the exact full-batch gradient of the total loss in
    /// `student.parameters.gradients` (nothing else changes) and returns the losses.
    public func computeGradients(_ batch: TrainingBatch, stepIndex: Int = 0) throws(TrainingError) -> Losses {
        var timing = Timing()
        return try computeGradients(batch, stepIndex: stepIndex, timing: &timing)
    }

    private func computeGradients(_ batch: TrainingBatch, stepIndex: Int, timing: inout Timing) throws(TrainingError) -> Losses {
        let n = batch.count, k = microShards
        guard n >= 1, n % k == 0 else {
            throw .batchShape("\(n) pairs cannot be cut into \(k) equal micro-shards")
        }
        try checkShape(batch)
        reserve(rows: n)
        let shard = n / k
        let needsTeacher = graph != nil
        var clock = StepClock()

        // 1. Embed every micro-shard in order.
        for s in 0..<k {
            let rows = (s * shard)..<((s + 1) * shard)
            try forwardStudent(batch, rows: rows)
            if needsTeacher, let teacher {
                try teacher.embed(batch, rows: rows, image: slice(teacherImage, rows), text: slice(teacherText, rows))
            }
        }
        timing.embed = clock.lap()

        // 2. The full-batch loss and its gradient for every row.
        let losses = try evaluateLoss(rows: n)
        guard losses.total.isFinite else { throw .nonFiniteLoss(step: stepIndex, value: losses.total) }
        timing.loss = clock.lap()

        // 3. Per-shard gradients, summed in shard order.
        let parameters = student.parameters
        let count = parameters.count
        parameters.zeroGradients()
        try backwardStudent(rows: ((k - 1) * shard)..<n)  // activations still held
        if k > 1 {
            let g = parameters.gradients.pointer, held = lastShardGradient.pointer, sum = gradientSum.pointer
            held.update(from: g, count: count)
            for s in 0..<(k - 1) {
                let rows = (s * shard)..<((s + 1) * shard)
                parameters.zeroGradients()
                try forwardStudent(batch, rows: rows)
                try backwardStudent(rows: rows)
                if s == 0 {
                    sum.update(from: g, count: count)
                } else {
                    MicroShardReduction.add(g, into: sum, count: count)
                }
            }
            MicroShardReduction.add(held, into: sum, count: count)
            g.update(from: sum, count: count)
        }
        parameters.gradients[student.logitScaleOffset] += losses.logitScaleGradient
        timing.backward = clock.lap()
        return losses
    }

    // MARK: - Pieces

    private func checkShape(_ batch: TrainingBatch) throws(TrainingError) {
        let n = batch.count
        let perImage = student.vision.valuesPerImage, context = student.text.contextLength
        guard batch.pixels.count == n * perImage else {
            throw .batchShape("the student takes \(perImage) values per image, but the batch holds \(batch.pixels.count) for \(n) images")
        }
        guard batch.ids.count == n * context else {
            throw .batchShape("the student takes \(context) tokens per caption, but the batch holds \(batch.ids.count) for \(n) captions")
        }
    }

    private func forwardStudent(_ batch: TrainingBatch, rows: Range<Int>) throws(TrainingError) {
        let perImage = student.vision.valuesPerImage, context = student.text.contextLength
        let vision = student.vision, text = student.text
        let imageOut = slice(studentImage, rows), textOut = slice(studentText, rows)
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

    /// Back-propagates the loss gradient of `rows` through the towers'
    /// retained activations (which must be those rows'), accumulating into
    /// the parameter gradients.
    private func backwardStudent(rows: Range<Int>) throws(TrainingError) {
        do {
            try student.vision.backward(dEmbeds: UnsafeBufferPointer(slice(imageGradient, rows)))
            try student.text.backward(dEmbeds: UnsafeBufferPointer(slice(textGradient, rows)))
        } catch {
            throw .model(error)
        }
    }

    /// Task loss + graph on the full batch held in the embedding buffers;
    /// writes d total / d raw student embedding for all rows.
    private func evaluateLoss(rows n: Int) throws(TrainingError) -> Losses {
        let count = n * d
        var termValues: [Double] = []
        var graphTotal = 0.0
        if let graph {
            let evaluation: LossEvaluation
            do {
                evaluation = try graph.evaluate(
                    studentImage: UnsafeBufferPointer(start: studentImage.pointer, count: count),
                    studentText: UnsafeBufferPointer(start: studentText.pointer, count: count),
                    teacherImage: UnsafeBufferPointer(start: teacherImage.pointer, count: count),
                    teacherText: UnsafeBufferPointer(start: teacherText.pointer, count: count), n: n, d: d)
            } catch { throw .lossGraph(error) }
            evaluation.copyGradients(rows: 0..<n, studentImage: imageGradient.pointer, studentText: textGradient.pointer)
            termValues = evaluation.values
            graphTotal = evaluation.total
        }
        let task: ContrastiveLossResult
        do {
            task = try taskLoss.evaluate(
                image: studentImage.pointer, text: studentText.pointer, rows: n, dim: d, logitScale: student.logitScale,
                gradients: ContrastiveGradientOutput(image: imageGradient.pointer, text: textGradient.pointer,
                                                     weight: Float(taskWeight), accumulate: graph != nil))
        } catch { throw .taskLoss(error) }
        return Losses(task: Double(task.loss), terms: termValues, total: taskWeight * Double(task.loss) + graphTotal,
                      logitScale: task.scale, logitScaleGradient: task.logitScaleGradient)
    }

    private func slice(_ buffer: FloatBuffer, _ rows: Range<Int>) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: buffer.pointer + rows.lowerBound * d, count: rows.count * d)
    }

    private func reserve(rows n: Int) {
        if n > capacity {
            studentImage = FloatBuffer(count: n * d); studentText = FloatBuffer(count: n * d)
            teacherImage = FloatBuffer(count: n * d); teacherText = FloatBuffer(count: n * d)
            imageGradient = FloatBuffer(count: n * d); textGradient = FloatBuffer(count: n * d)
            capacity = n
        }
        if microShards > 1 && gradientSum.count != student.parameters.count {
            gradientSum = FloatBuffer(count: student.parameters.count)
            lastShardGradient = FloatBuffer(count: student.parameters.count)
        }
    }
}

/// The one way micro-shard gradients are summed (in micro-shard order, one
/// float add per element), shared by the single-process step and the
/// distributed reducer so both produce the same bits.
public enum MicroShardReduction {
    /// `sum[i] += shard[i]` for `count` elements.
    public static func add(_ shard: UnsafePointer<Float>, into sum: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { sum[i] += shard[i] }
    }

    public static func add(_ shard: UnsafeMutablePointer<Float>, into sum: UnsafeMutablePointer<Float>, count: Int) {
        add(UnsafePointer(shard), into: sum, count: count)
    }
}
