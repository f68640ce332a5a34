/// A built-in image-text dataset that needs no files: coloured shapes on a
/// white background with captions such as "a small red circle", generated in
/// code and fully determined by (seed, index). It exists so that a training
/// run (configs/smoke.yaml, install checks, tests) can start straight after a
/// build. Pair `i` draws a colour, a shape, a size class and a position from
/// `DeterministicRandom(seed:stream:)`, so the same seed gives the same bytes
/// on every platform.
public struct SyntheticShapes: Sendable {
    /// Name and RGB of each colour a caption can mention.
    public static let colours: [(name: String, rgb: (UInt8, UInt8, UInt8))] = [
        ("red", (220, 38, 38)), ("green", (34, 160, 60)), ("blue", (37, 80, 220)), ("yellow", (235, 200, 30)),
        ("purple", (140, 60, 190)), ("orange", (245, 135, 25)), ("black", (25, 25, 25)),
    ]
    /// Shapes a caption can mention.
    public enum Shape: String, CaseIterable, Sendable {
        case circle, square, triangle, cross, ring, diamond
    }

    public let pairs: Int
    public let seed: UInt64
    /// Side of the square images, in pixels.
    public let imageSize: Int

    public init(pairs: Int, seed: UInt64, imageSize: Int = 64) {
        self.pairs = max(0, pairs)
        self.seed = seed
        self.imageSize = max(8, imageSize)
    }

    /// What pair `index` shows.
    public struct Item: Sendable, Equatable {
        public var colour: Int
        public var shape: Shape
        public var big: Bool
        /// Centre and half-size in pixels.
        public var centerX: Double, centerY: Double, radius: Double
        public var caption: String {
            "a \(big ? "big" : "small") \(SyntheticShapes.colours[colour].name) \(shape.rawValue)"
        }
    }

    public func item(at index: Int) -> Item {
        var random = DeterministicRandom(seed: seed, stream: "synthetic-shapes-\(index)")
        let colour = random.nextIndex(below: Self.colours.count)
        let shape = Shape.allCases[random.nextIndex(below: Shape.allCases.count)]
        let big = random.nextIndex(below: 2) == 1
        let side = Double(imageSize)
        let radius = side * (big ? 0.30 + 0.08 * random.nextUniform() : 0.13 + 0.05 * random.nextUniform())
        let margin = radius + 1
        let centerX = margin + (side - 2 * margin) * random.nextUniform()
        let centerY = margin + (side - 2 * margin) * random.nextUniform()
        return Item(colour: colour, shape: shape, big: big, centerX: centerX, centerY: centerY, radius: radius)
    }

    public func caption(at index: Int) -> String { item(at: index).caption }

    /// Stable id of pair `index`.
    public func id(at index: Int) -> String {
        let digits = String(index)
        return "synthetic-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// The image of pair `index`, rendered by testing each pixel centre against the shape.
    public func image(at index: Int) -> RGBImage {
        let item = item(at: index)
        let (r, g, b) = Self.colours[item.colour].rgb
        var image = RGBImage(width: imageSize, height: imageSize)
        let size = imageSize
        image.withUnsafeMutablePixels { pixels in
            for y in 0..<size {
                for x in 0..<size {
                    let dx = (Double(x) + 0.5 - item.centerX) / item.radius
                    let dy = (Double(y) + 0.5 - item.centerY) / item.radius
                    guard Self.contains(item.shape, dx, dy) else { continue }
                    let i = (y * size + x) * 3
                    pixels[i] = r; pixels[i + 1] = g; pixels[i + 2] = b
                }
            }
        }
        return image
    }

    /// Whether the point (dx, dy), in units of the shape's half-size around
    /// its centre (y down), lies inside `shape`.
    static func contains(_ shape: Shape, _ dx: Double, _ dy: Double) -> Bool {
        switch shape {
        case .circle: return dx * dx + dy * dy <= 1
        case .square: return abs(dx) <= 0.85 && abs(dy) <= 0.85
        case .triangle: return dy <= 0.8 && dy >= -1 + 1.8 * abs(dx)
        case .cross: return (abs(dx) <= 0.3 && abs(dy) <= 1) || (abs(dy) <= 0.3 && abs(dx) <= 1)
        case .ring:
            let r2 = dx * dx + dy * dy
            return r2 <= 1 && r2 >= 0.36
        case .diamond: return abs(dx) + abs(dy) <= 1
        }
    }
}
