import ArgumentParser
import ConaclipCluster
import Foundation

/// `conaclip embed`: L2-normalised CLIP embeddings of images and texts.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed images and texts with a CLIP model directory; write image_embeds and text_embeds to a safetensors file.")

    @Option(help: "Model directory (Hugging Face CLIP layout: config.json, model.safetensors, vocab.json, merges.txt).")
    var model: String

    @Option(parsing: .upToNextOption, help: "PNG or JPEG files to embed.")
    var image: [String] = []

    @Option(parsing: .upToNextOption, help: "Texts to embed.")
    var text: [String] = []

    @Option(help: "Output safetensors file.")
    var out: String

    @Option(help: "Images or texts per forward pass.")
    var chunkSize = 64

    func validate() throws {
        guard !image.isEmpty || !text.isEmpty else { throw ValidationError("give at least one --image or --text") }
        guard chunkSize > 0 else { throw ValidationError("--chunk-size must be positive") }
    }

    func run() throws {
        let encoder = try CLIPEncoder(directory: model, chunkSize: chunkSize)
        var writer = SafeTensorsWriter(metadata: ["model": model])
        if !image.isEmpty {
            var images: [RGBImage] = []
            for path in image { images.append(try RGBImage(contentsOfFile: path)) }
            writer.add("image_embeds", try encoder.embed(images: images))
        }
        if !text.isEmpty {
            writer.add("text_embeds", try encoder.embed(texts: text))
        }
        try writer.write(to: out)
        print("wrote \(out): \(image.count) image and \(text.count) text embeddings of width \(encoder.model.config.projectionDim)")
    }
}
