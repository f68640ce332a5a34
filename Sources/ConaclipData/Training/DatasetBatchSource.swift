/// How one model wants its inputs: image preprocessing and tokenization.
public struct TowerInputs: Sendable {
    public let preprocessor: CLIPImagePreprocessor
    public let tokenizer: CLIPTokenizer
    public let contextLength: Int

    public init(preprocessor: CLIPImagePreprocessor, tokenizer: CLIPTokenizer, contextLength: Int) {
        self.preprocessor = preprocessor
        self.tokenizer = tokenizer
        self.contextLength = contextLength
    }
}

/// Feeds `Trainer` from `TrainingPairs`: step `s` holds the pairs
/// `DeterministicSampler.batch(step: s)` names, decoded, preprocessed and
/// tokenized for the student, and separately for the teacher when its
/// preprocessing (`teacherPixels`) or tokenization (`teacherTokens`) differs.
/// Images are decoded afresh each step (nothing is cached), so memory does
/// not grow with the dataset.
public final class DatasetBatchSource: TrainingBatchSource {
    public let pairs: TrainingPairs
    public let sampler: DeterministicSampler
    public let student: TowerInputs
    /// The teacher's preprocessing, when it differs from the student's.
    public let teacherPixels: CLIPImagePreprocessor?
    /// The teacher's tokenizer and context, when they differ from the student's.
    public let teacherTokens: (tokenizer: CLIPTokenizer, contextLength: Int)?
    private var workspace = ResamplingWorkspace()

    public init(pairs: TrainingPairs, sampler: DeterministicSampler, student: TowerInputs,
                teacherPixels: CLIPImagePreprocessor? = nil,
                teacherTokens: (tokenizer: CLIPTokenizer, contextLength: Int)? = nil) {
        self.pairs = pairs
        self.sampler = sampler
        self.student = student
        self.teacherPixels = teacherPixels
        self.teacherTokens = teacherTokens
    }

    public var pairCount: Int { pairs.count }

    public func fill(_ batch: TrainingBatch, step: Int, batchSize: Int) throws(TrainingError) {
        try fill(batch, step: step, batchSize: batchSize, rows: 0..<batchSize)
    }

    /// Sizes `batch` for step `step` and sets every row's dataset index, but
    /// decodes and tokenizes only `rows` (a worker's micro-shard); the other
    /// rows keep whatever they held.
    public func fill(_ batch: TrainingBatch, step: Int, batchSize: Int, rows: Range<Int>) throws(TrainingError) {
        guard batchSize == sampler.batchSize else {
            throw .batchShape("the sampler makes batches of \(sampler.batchSize), asked for \(batchSize)")
        }
        guard rows.lowerBound >= 0, rows.upperBound <= batchSize else {
            throw .batchShape("rows \(rows) are outside a batch of \(batchSize)")
        }
        let indices = sampler.batch(step: step)
        let perImage = student.preprocessor.valuesPerImage, context = student.contextLength
        batch.resize(count: batchSize, valuesPerImage: perImage, contextLength: context,
                     teacherValuesPerImage: teacherPixels?.valuesPerImage, teacherContextLength: teacherTokens?.contextLength)
        for (row, index) in indices.enumerated() { batch.indices[row] = index }
        for row in rows {
            let index = indices[row]
            let image = try pairs.image(at: index)
            batch.pixels.withUnsafeMutableBufferPointer { all in
                student.preprocessor.preprocess(image, into: UnsafeMutableBufferPointer(rebasing: all[(row * perImage)..<((row + 1) * perImage)]),
                                                workspace: &workspace)
            }
            if let teacher = teacherPixels, var buffer = batch.teacherPixels {
                batch.teacherPixels = nil  // keep the array uniquely referenced while writing
                let width = teacher.valuesPerImage
                buffer.withUnsafeMutableBufferPointer { all in
                    teacher.preprocess(image, into: UnsafeMutableBufferPointer(rebasing: all[(row * width)..<((row + 1) * width)]),
                                       workspace: &workspace)
                }
                batch.teacherPixels = buffer
            }
            let caption = pairs.caption(at: index)
            let ids = student.tokenizer.encode(caption, contextLength: context)
            for p in 0..<context { batch.ids[row * context + p] = ids[p] }
            if let (tokenizer, teacherContext) = teacherTokens, var buffer = batch.teacherIDs {
                batch.teacherIDs = nil
                let teacherIds = tokenizer.encode(caption, contextLength: teacherContext)
                for p in 0..<teacherContext { buffer[row * teacherContext + p] = teacherIds[p] }
                batch.teacherIDs = buffer
            }
        }
    }
}
