import Foundation

/// The image preprocessing a model directory asks for: Hugging Face's
/// `preprocessor_config.json` when present (`size`, `crop_size`,
/// `image_mean`, `image_std`), otherwise CLIP's defaults at the model's own
/// image size.
public struct ImageProcessorSettings: Sendable, Equatable {
    public static let fileName = "preprocessor_config.json"

    public var size: Int
    public var cropSize: Int
    public var mean: [Float]
    public var std: [Float]

    /// CLIP's defaults for a model whose image tower takes `imageSize` pixels.
    public init(imageSize: Int) {
        size = imageSize
        cropSize = imageSize
        mean = CLIPImagePreprocessor.clipMean
        std = CLIPImagePreprocessor.clipStd
    }

    /// Reads `preprocessor_config.json` in `directory` if it exists. Sizes may
    /// be integers or objects (`{"shortest_edge": n}`, `{"height": h, "width": w}`).
    public init(directory: String, imageSize: Int) throws(DataError) {
        self.init(imageSize: imageSize)
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        guard FileManager.default.fileExists(atPath: path) else { return }
        let object: [String: Any]
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let parsed = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw DataError.invalidFile(path: path, reason: "not a JSON object")
            }
            object = parsed
        } catch let error as DataError {
            throw error
        } catch {
            throw .invalidFile(path: path, reason: "\(error.localizedDescription)")
        }
        func side(_ key: String) throws(DataError) -> Int? {
            guard let value = object[key] else { return nil }
            if let n = value as? Int { return n }
            if let d = value as? [String: Any] {
                for k in ["shortest_edge", "height", "width"] { if let n = d[k] as? Int { return n } }
            }
            throw .invalidFile(path: path, reason: "\(key) must be an integer or {\"shortest_edge\": n}")
        }
        func triple(_ key: String) throws(DataError) -> [Float]? {
            guard let value = object[key] else { return nil }
            guard let numbers = value as? [Double], numbers.count == 3 else {
                throw .invalidFile(path: path, reason: "\(key) must be a list of 3 numbers")
            }
            return numbers.map { Float($0) }
        }
        if let s = try side("size") { size = s }
        if let c = try side("crop_size") { cropSize = c }
        if let m = try triple("image_mean") { mean = m }
        if let s = try triple("image_std") { std = s }
    }

    /// The preprocessor these settings describe.
    public func preprocessor() throws(ImagePreprocessingError) -> CLIPImagePreprocessor {
        try CLIPImagePreprocessor(size: size, cropSize: cropSize, mean: mean, std: std)
    }

    /// The settings as a Hugging Face `preprocessor_config.json` document.
    public func huggingFaceJSON() -> String {
        func list(_ v: [Float]) -> String { "[" + v.map { "\(Double($0))" }.joined(separator: ", ") + "]" }
        return """
        {
          "crop_size": {"height": \(cropSize), "width": \(cropSize)},
          "do_center_crop": true,
          "do_convert_rgb": true,
          "do_normalize": true,
          "do_rescale": true,
          "do_resize": true,
          "image_mean": \(list(mean)),
          "image_processor_type": "CLIPImageProcessor",
          "image_std": \(list(std)),
          "resample": 3,
          "rescale_factor": 0.00392156862745098,
          "size": {"shortest_edge": \(size)}
        }

        """
    }
}
