/// Where a distillation step gets the frozen teacher's raw embeddings for a
/// micro-shard: a teacher model run forward without gradients
/// (`FrozenTeacher`), or a precomputed teacher-embedding cache keyed by the
/// batch's dataset indices.
///
/// Embeddings are requested per micro-shard, in micro-shard order, exactly as
/// a distributed worker requests them, so a model-backed source computes
/// bit-identical values in one process and in many.
public protocol TeacherEmbeddingSource: AnyObject {
    /// Width of the embeddings; must equal the student's `projection_dim`.
    var embeddingWidth: Int { get }
    /// Writes the raw (un-normalised) teacher image and text embeddings of
    /// `batch` rows `rows` into `image` and `text` (`rows.count * embeddingWidth` floats each).
    func embed(_ batch: TrainingBatch, rows: Range<Int>,
               image: UnsafeMutableBufferPointer<Float>, text: UnsafeMutableBufferPointer<Float>) throws(TrainingError)
}

/// A frozen teacher model as a `TeacherEmbeddingSource`: both towers run
/// forward in inference mode (no activations kept, no gradients) on the
/// teacher's inputs of the batch (`teacherPixels` / `teacherIDs`, or the
/// student's when those are nil).
public final class FrozenTeacher: TeacherEmbeddingSource {
    public let model: CLIPModel

    public init(model: CLIPModel) {
        self.model = model
    }

    public var embeddingWidth: Int { model.config.projectionDim }

    public func embed(_ batch: TrainingBatch, rows: Range<Int>,
                      image: UnsafeMutableBufferPointer<Float>, text: UnsafeMutableBufferPointer<Float>) throws(TrainingError) {
        guard !rows.isEmpty else { return }
        let pixelsPerImage = model.vision.valuesPerImage
        let context = model.text.contextLength
        let pixels = batch.teacherPixels ?? batch.pixels
        let ids = batch.teacherIDs ?? batch.ids
        guard pixels.count == batch.count * pixelsPerImage else {
            throw .batchShape("the teacher takes \(pixelsPerImage) values per image, but the batch holds "
                + "\(pixels.count) for \(batch.count) images")
        }
        guard ids.count == batch.count * context else {
            throw .batchShape("the teacher takes \(context) tokens per caption, but the batch holds \(ids.count) for \(batch.count) captions")
        }
        let vision = model.vision, textTower = model.text
        do {
            try pixels.withUnsafeBufferPointer { (all) throws(ModelError) in
                guard let base = all.baseAddress else { return }
                try vision.forward(pixels: UnsafeBufferPointer(start: base + rows.lowerBound * pixelsPerImage,
                                                               count: rows.count * pixelsPerImage),
                                   batch: rows.count, output: image, retainActivations: false)
            }
            try ids.withUnsafeBufferPointer { (all) throws(ModelError) in
                guard let base = all.baseAddress else { return }
                try textTower.forward(ids: UnsafeBufferPointer(start: base + rows.lowerBound * context, count: rows.count * context),
                                      batch: rows.count, output: text, retainActivations: false)
            }
        } catch {
            throw .model(error)
        }
    }
}
