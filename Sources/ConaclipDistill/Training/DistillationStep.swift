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
    public var graph: LossGraph? { computer.graph }
    public let taskWeight: Double
    public let microShards: Int
    /// Each micro-shard's loss sees only its own rows as negatives (the
    /// config's explicit `loss.shard_local_negatives`); the step's loss is
    /// the mean of the shards' losses. Off by default: negatives are global.
    public let shardLocalNegatives: Bool
    public let optimizer: AdamW
    /// Global-norm clipping threshold (`.infinity` only measures).
    public let maxGradientNorm: Double
    /// The per-shard pieces (shared with the distributed workers).
    public let computer: MicroShardComputer

    /// Shard-gradient sum in shard order (K > 1 only).
    private var gradientSum: OrderedGradientSum?

    public typealias Losses = StepLosses

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
                microShards: Int, optimizer: AdamWConfig, maxGradientNorm: Double,
                shardLocalNegatives: Bool = false) throws(TrainingError) {
        guard microShards >= 1 else { throw .config(.invalidValue(source: "trainer", key: "micro_shards", reason: "must be >= 1, got \(microShards)")) }
        guard maxGradientNorm > 0 else { throw .clipping(.invalidMaxNorm(maxGradientNorm)) }
        computer = try MicroShardComputer(student: student, teacher: teacher, terms: terms, taskWeight: taskWeight)
        self.student = student
        self.teacher = teacher
        self.taskWeight = taskWeight
        self.microShards = microShards
        self.shardLocalNegatives = shardLocalNegatives
        self.optimizer = AdamW(store: student.parameters, config: optimizer)
        self.maxGradientNorm = maxGradientNorm
    }

    /// Runs steps 1-4 on `batch` with `learningRate`; `stepIndex` only names
    /// the step in errors. A non-finite loss or gradient throws before the
    /// weights change.
    public func step(_ batch: TrainingBatch, stepIndex: Int, learningRate: Double) throws(TrainingError) -> Outcome {
        var timing = Timing()
        let losses = try computeGradients(batch, stepIndex: stepIndex, timing: &timing)
        var clock = StepClock()
        let report = try Self.applyOptimizer(student: student, optimizer: optimizer, maxGradientNorm: maxGradientNorm,
                                             learningRate: learningRate, stepIndex: stepIndex)
        timing.optimizer = clock.lap()
        return Outcome(losses: losses, gradientNorm: report.norm, learningRate: learningRate, timing: timing)
    }

    /// Step 4, shared with the distributed coordinator: global-norm clipping
    /// of `student.parameters.gradients`, then AdamW. A non-finite gradient
    /// norm throws before the weights change.
    public static func applyOptimizer(student: CLIPModel, optimizer: AdamW, maxGradientNorm: Double, learningRate: Double,
                                      stepIndex: Int) throws(TrainingError) -> GradientNormReport {
        let report: GradientNormReport
        do { report = try GradientClipping.clipGlobalNorm(student.parameters, maxNorm: maxGradientNorm) } catch { throw .clipping(error) }
        guard report.isFinite else { throw .nonFiniteGradient(step: stepIndex, norm: report.norm) }
        do { try optimizer.step(learningRate: learningRate) } catch { throw .optimizer(error) }
        return report
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
        try computer.checkShape(batch)
        computer.reserve(rows: n)
        let shard = n / k
        let parameters = student.parameters
        if k > 1 && gradientSum?.count != parameters.count {
            gradientSum = OrderedGradientSum(count: parameters.count, shards: k)
        }
        let g = parameters.gradients.pointer
        var clock = StepClock()
        if shardLocalNegatives {
            return try shardLocalGradients(batch, shard: shard, stepIndex: stepIndex, timing: &timing)
        }

        // 1. Embed every micro-shard in order.
        for s in 0..<k {
            try computer.embed(batch, rows: (s * shard)..<((s + 1) * shard))
        }
        timing.embed = clock.lap()

        // 2. The full-batch loss and its gradient for every row.
        let losses = try computer.evaluateLoss(rows: 0..<n)
        guard losses.total.isFinite else { throw .nonFiniteLoss(step: stepIndex, value: losses.total) }
        timing.loss = clock.lap()

        // 3. Per-shard gradients, summed in shard order. The last shard's
        // activations are still held, so it goes first (and waits in the sum).
        parameters.zeroGradients()
        try computer.backward(rows: ((k - 1) * shard)..<n)
        if k > 1, let sum = gradientSum {
            sum.reset()
            sum.add(shard: k - 1, g)
            for s in 0..<(k - 1) {
                let rows = (s * shard)..<((s + 1) * shard)
                parameters.zeroGradients()
                try computer.forwardStudent(batch, rows: rows)
                try computer.backward(rows: rows)
                sum.add(shard: s, g)
            }
            g.update(from: sum.result, count: parameters.count)
        }
        g[student.logitScaleOffset] += losses.logitScaleGradient
        timing.backward = clock.lap()
        return losses
    }

    /// Steps 1-3 with shard-local negatives: each shard is embedded, its own
    /// loss evaluated (row gradients scaled by 1/K) and back-propagated in
    /// turn; gradients and logit-scale gradients are summed in shard order.
    private func shardLocalGradients(_ batch: TrainingBatch, shard: Int, stepIndex: Int,
                                     timing: inout Timing) throws(TrainingError) -> Losses {
        let k = microShards, parameters = student.parameters
        let g = parameters.gradients.pointer
        var shardLosses: [Losses] = []
        var clock = StepClock()
        for s in 0..<k {
            let rows = (s * shard)..<((s + 1) * shard)
            try computer.embed(batch, rows: rows)
            timing.embed += clock.lap()
            let losses = try computer.evaluateLoss(rows: rows, gradientScale: ShardLocalNegatives.gradientScale(shards: k))
            guard losses.total.isFinite else { throw .nonFiniteLoss(step: stepIndex, value: losses.total) }
            shardLosses.append(losses)
            timing.loss += clock.lap()
            parameters.zeroGradients()
            try computer.backward(rows: rows)
            if k > 1, let sum = gradientSum {
                if s == 0 { sum.reset() }
                sum.add(shard: s, g)
            }
            timing.backward += clock.lap()
        }
        if k > 1, let sum = gradientSum { g.update(from: sum.result, count: parameters.count) }
        let combined = ShardLocalNegatives.combine(shardLosses)
        g[student.logitScaleOffset] += combined.logitScaleGradient
        return combined
    }
}

/// How shard-local negatives turn per-shard losses into the step's loss,
/// shared by the single-process step and the coordinator.
public enum ShardLocalNegatives {
    /// Each shard's row gradients are scaled by 1/K (the step's loss is the shards' mean).
    public static func gradientScale(shards: Int) -> Float { 1 / Float(shards) }

    /// The mean of the shards' loss values (summed in shard order) and the
    /// sum, in shard order, of their (already 1/K-scaled) logit-scale gradients.
    public static func combine(_ shards: [StepLosses]) -> StepLosses {
        guard var result = shards.first else { return StepLosses(task: 0, terms: [], total: 0, logitScale: 1, logitScaleGradient: 0) }
        for other in shards.dropFirst() {
            result.task += other.task
            result.total += other.total
            for i in result.terms.indices where i < other.terms.count { result.terms[i] += other.terms[i] }
            result.logitScaleGradient += other.logitScaleGradient
        }
        let k = Double(shards.count)
        result.task /= k
        result.total /= k
        result.terms = result.terms.map { $0 / k }
        return result
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
