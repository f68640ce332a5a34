import Foundation

/// Why a model could not be evaluated on a dataset.
public enum ModelEvaluationError: Error, CustomStringConvertible {
    /// A record could not be read or decoded (under the `stop` policy), or
    /// the dataset could not be opened.
    case dataset(DatasetError)
    /// The model could not encode the data.
    case encoding(model: String, reason: String)
    /// Every record was skipped, or none was given.
    case empty(reason: String)
    /// Retrieval metrics could not be computed.
    case retrieval(RetrievalError)
    /// A setting is out of range.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .dataset(error): return error.description
        case let .encoding(model, reason): return "model \(model) could not encode the data: \(reason)"
        case let .empty(reason): return "nothing to evaluate: \(reason)"
        case let .retrieval(error): return error.description
        case let .invalidArgument(reason): return reason
        }
    }
}

/// Parameter counts of a CLIP model, for the deployment comparison: the
/// image tower with `visual_projection`, the text tower with
/// `text_projection`, and the total (both plus the `logit_scale` scalar).
public struct ParameterCounts: Sendable, Equatable, Codable {
    public var vision: Int
    public var text: Int
    public var total: Int

    public init(vision: Int, text: Int, total: Int) {
        self.vision = vision; self.text = text; self.total = total
    }

    /// Counts `model`'s parameters by their Hugging Face names.
    public init(model: CLIPModel) {
        var vision = 0, text = 0
        for spec in model.parameters.specs {
            if spec.name.hasPrefix("vision_model.") || spec.name == "visual_projection.weight" {
                vision += spec.count
            } else if spec.name.hasPrefix("text_model.") || spec.name == "text_projection.weight" {
                text += spec.count
            }
        }
        self.init(vision: vision, text: text, total: model.parameters.count)
    }
}

/// Encoding speed of one model measured in this process: images (after
/// decoding: preprocessing plus the image tower) and texts (tokenizing plus
/// the text tower) per second over the evaluated set, after an untimed
/// warm-up batch, with the BLAS thread count in force at the time.
public struct EncodingThroughput: Sendable, Equatable {
    public var images: Int
    public var imageSeconds: Double
    public var texts: Int
    public var textSeconds: Double
    public var blasThreads: Int
    public var batch: Int

    public var imagesPerSecond: Double { imageSeconds > 0 ? Double(images) / imageSeconds : 0 }
    public var textsPerSecond: Double { textSeconds > 0 ? Double(texts) / textSeconds : 0 }
}

/// Evaluates a CLIP model directory on image-text pairs: embeds every image
/// and caption (timing the encoders), then computes text-to-image and
/// image-to-text Recall@1/5/10 with `RetrievalMetrics`, counting identical
/// pictures (`same_image_as`) as hits.
///
/// Images are decoded and encoded `batch` at a time, so memory holds one
/// batch of decoded images plus the embeddings. Decoding is outside the
/// timed region (it measures the disk and codec, not the model). The first
/// batch of images and of texts is encoded once untimed as a warm-up.
/// Records whose image turns out broken are handled by the loader's
/// bad-record policy: thrown, or skipped (pair left out) and counted.
public struct ModelEvaluation {
    public let encoder: CLIPEncoder
    /// Model directory, for messages.
    public let modelPath: String
    /// Images or texts per forward pass.
    public let batch: Int
    /// Query rows per similarity block.
    public var blockRows = RetrievalMetrics.defaultBlockRows

    /// What an evaluation produced.
    public struct Outcome {
        /// The evaluated pairs (records whose image could be decoded), in input order.
        public var records: [PairRecord]
        public var imageEmbeddings: Tensor
        public var textEmbeddings: Tensor
        /// `SameImageGroups` labels of `records`.
        public var groups: [Int]
        public var retrieval: RetrievalResult
        public var throughput: EncodingThroughput
        /// Records skipped because their image could not be decoded.
        public var skipped: BadRecordReport
        /// Captions longer than the model's text context (cut to fit).
        public var truncatedCaptions: Int
    }

    public init(encoder: CLIPEncoder, modelPath: String, batch: Int) throws(ModelEvaluationError) {
        guard batch > 0 else { throw .invalidArgument("the batch must hold at least one item, got \(batch)") }
        self.encoder = encoder
        self.modelPath = modelPath
        self.batch = batch
    }

    /// Runs the evaluation. `loadImage` decodes a record's image under the
    /// dataset's bad-record policy: it returns nil (after counting the record
    /// in the report) to skip it, or throws to stop.
    public func run(records: [PairRecord],
                    loadImage: (PairRecord, inout BadRecordReport) throws(DatasetError) -> RGBImage?)
        throws(ModelEvaluationError) -> Outcome {
        guard !records.isEmpty else { throw .empty(reason: "the dataset has no records") }
        let width = encoder.model.config.projectionDim
        let clock = ContinuousClock()
        var skipped = BadRecordReport()
        var kept: [PairRecord] = []
        var imageValues: [Float] = []
        imageValues.reserveCapacity(records.count * width)
        var imageSeconds = 0.0
        var warmedUp = false

        for start in stride(from: 0, to: records.count, by: batch) {
            var images: [RGBImage] = []
            var chunkRecords: [PairRecord] = []
            for record in records[start..<min(records.count, start + batch)] {
                let image: RGBImage?
                do throws(DatasetError) { image = try loadImage(record, &skipped) } catch { throw .dataset(error) }
                if let image {
                    images.append(image)
                    chunkRecords.append(record)
                }
            }
            if images.isEmpty { continue }
            if !warmedUp {
                _ = try encode { () throws -> Tensor in try encoder.embed(images: images) }
                warmedUp = true
            }
            let begin = clock.now
            let embeddings = try encode { () throws -> Tensor in try encoder.embed(images: images) }
            imageSeconds += Self.seconds(clock.now - begin)
            imageValues.append(contentsOf: embeddings.scalars)
            kept.append(contentsOf: chunkRecords)
        }
        guard !kept.isEmpty else {
            throw .empty(reason: "every image was skipped" + (skipped.summary.map { " (\($0))" } ?? ""))
        }

        let captions = kept.map(\.caption)
        let context = encoder.model.config.textConfig.maxPositionEmbeddings
        let truncated = captions.reduce(0) { $0 + (encoder.tokenizer.encode($1).count > context ? 1 : 0) }
        let warmup = Array(captions.prefix(batch))
        _ = try encode { () throws -> Tensor in try encoder.embed(texts: warmup) }
        var textValues: [Float] = []
        textValues.reserveCapacity(kept.count * width)
        var textSeconds = 0.0
        for start in stride(from: 0, to: captions.count, by: batch) {
            let chunk = Array(captions[start..<min(captions.count, start + batch)])
            let begin = clock.now
            let embeddings = try encode { () throws -> Tensor in try encoder.embed(texts: chunk) }
            textSeconds += Self.seconds(clock.now - begin)
            textValues.append(contentsOf: embeddings.scalars)
        }

        let imageEmbeddings: Tensor, textEmbeddings: Tensor
        do throws(TensorError) {
            imageEmbeddings = try Tensor(shape: [kept.count, width], scalars: imageValues)
            textEmbeddings = try Tensor(shape: [kept.count, width], scalars: textValues)
        } catch {
            throw .encoding(model: modelPath, reason: error.description)
        }
        let groups = SameImageGroups.labels(ids: kept.map(\.id), sameImageAs: kept.map(\.sameImageAs))
        let retrieval: RetrievalResult
        do throws(RetrievalError) {
            retrieval = try RetrievalMetrics.evaluate(imageEmbeddings: imageEmbeddings, textEmbeddings: textEmbeddings,
                                                      groups: groups, blockRows: blockRows)
        } catch .nonFiniteEmbedding(let kind, let index) {
            throw .encoding(model: modelPath, reason: "the \(kind) embedding of record \"\(kept[index].id)\" "
                + "(\(kept[index].location)) is NaN or infinite; the weights or this input are broken")
        } catch {
            throw .retrieval(error)
        }
        let throughput = EncodingThroughput(images: kept.count, imageSeconds: imageSeconds,
                                            texts: kept.count, textSeconds: textSeconds,
                                            blasThreads: BLAS.threads, batch: batch)
        return Outcome(records: kept, imageEmbeddings: imageEmbeddings, textEmbeddings: textEmbeddings,
                       groups: groups, retrieval: retrieval, throughput: throughput,
                       skipped: skipped, truncatedCaptions: truncated)
    }

    private func encode(_ body: () throws -> Tensor) throws(ModelEvaluationError) -> Tensor {
        do { return try body() } catch { throw .encoding(model: modelPath, reason: String(describing: error)) }
    }

    static func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }

    /// Bytes of the model's weights on disk: `model.safetensors`, or the sum
    /// of the shards its index names when the weights are sharded.
    public static func weightBytes(directory: String) throws(ModelEvaluationError) -> Int {
        let checkpoint = CheckpointDirectory(path: directory)
        let files: [SafeTensorsFile]
        do throws(CheckpointError) { files = try checkpoint.openWeights() } catch {
            throw .encoding(model: directory, reason: error.description)
        }
        var total = 0
        for file in files {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: file.path),
                  let size = attributes[.size] as? NSNumber else {
                throw .encoding(model: directory, reason: "cannot read the size of \(file.path)")
            }
            total += size.intValue
        }
        return total
    }
}
