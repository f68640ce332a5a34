/// One global batch of image-text pairs ready for the towers: preprocessed
/// pixels `[count, 3, S, S]` and padded token rows `[count, context]` for the
/// student, and the teacher's own inputs when its image size, preprocessing
/// or tokenizer differ from the student's.
///
/// A batch source fills the same object every step (`resize` keeps the
/// storage when the size does not change), so the loop does not allocate.
/// Row `i` of every field is pair `i`; micro-shard `k` is rows
/// `k * shardSize ..< (k + 1) * shardSize`.
public final class TrainingBatch {
    /// Number of pairs.
    public private(set) var count = 0
    /// Dataset index of each row (for a teacher-embedding cache and for logs).
    public var indices: [Int] = []
    /// Student pixels, `count * valuesPerImage` floats.
    public var pixels: [Float] = []
    /// Student token ids, `count * contextLength`.
    public var ids: [Int32] = []
    /// Teacher pixels when they differ from the student's (else nil: the teacher reads `pixels`).
    public var teacherPixels: [Float]?
    /// Teacher token ids when they differ from the student's (else nil: the teacher reads `ids`).
    public var teacherIDs: [Int32]?

    public init() {}

    /// Sets the number of rows and sizes the student buffers (zero-filled
    /// only when they grow); teacher buffers are sized when their widths are given.
    public func resize(count: Int, valuesPerImage: Int, contextLength: Int,
                       teacherValuesPerImage: Int? = nil, teacherContextLength: Int? = nil) {
        self.count = count
        Self.size(&indices, count, 0)
        Self.size(&pixels, count * valuesPerImage, 0)
        Self.size(&ids, count * contextLength, 0)
        if let width = teacherValuesPerImage {
            var buffer = teacherPixels ?? []
            teacherPixels = nil
            Self.size(&buffer, count * width, 0)
            teacherPixels = buffer
        } else {
            teacherPixels = nil
        }
        if let width = teacherContextLength {
            var buffer = teacherIDs ?? []
            teacherIDs = nil
            Self.size(&buffer, count * width, 0)
            teacherIDs = buffer
        } else {
            teacherIDs = nil
        }
    }

    private static func size<T>(_ array: inout [T], _ count: Int, _ fill: T) {
        if array.count > count {
            array.removeLast(array.count - count)
        } else if array.count < count {
            array.append(contentsOf: repeatElement(fill, count: count - array.count))
        }
    }
}

/// Produces the batch of each optimiser step. The rows of step `s` must be a
/// pure function of the source's seed and `s` (the sample order of DESIGN.md),
/// so that a resumed or distributed run sees exactly the same batches.
public protocol TrainingBatchSource: AnyObject {
    /// Number of pairs one epoch covers.
    var pairCount: Int { get }
    /// Fills `batch` with the `batchSize` pairs of 0-based step `step`.
    func fill(_ batch: TrainingBatch, step: Int, batchSize: Int) throws(TrainingError)
}
