/// An 8-bit RGB colour.
public struct RGBColor: Sendable, Equatable {
    public var red: UInt8, green: UInt8, blue: UInt8

    public init(_ red: UInt8, _ green: UInt8, _ blue: UInt8) {
        self.red = red; self.green = green; self.blue = blue
    }

    public static let white = RGBColor(255, 255, 255)
    public static let black = RGBColor(0, 0, 0)
    public static let text = RGBColor(30, 30, 30)
    public static let axis = RGBColor(90, 90, 90)
    public static let grid = RGBColor(228, 228, 228)
    public static let match = RGBColor(40, 160, 60)
    public static let frame = RGBColor(190, 190, 190)

    /// Ten distinguishable line colours (the common "category 10" palette).
    public static let palette: [RGBColor] = [
        RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40),
        RGBColor(148, 103, 189), RGBColor(140, 86, 75), RGBColor(227, 119, 194), RGBColor(127, 127, 127),
        RGBColor(188, 189, 34), RGBColor(23, 190, 207),
    ]

    /// Colour `index` of `palette`, cycling.
    public static func series(_ index: Int) -> RGBColor { palette[((index % palette.count) + palette.count) % palette.count] }
}

/// Text alignment relative to the x coordinate given to `Canvas.text`.
public enum TextAlignment: Sendable {
    case left, center, right
}

/// A pixel surface with the few drawing operations plots and contact sheets
/// need: filled and outlined rectangles, anti-aliased polylines (solid or
/// dashed) and discs, pasted images and text in `BitmapFont`. Coordinates
/// are pixels from the top-left corner; a pixel's centre is at +0.5.
/// Everything outside the surface is clipped.
public struct Canvas: Sendable {
    public let width: Int
    public let height: Int
    private var pixels: [UInt8]
    /// Drawing is limited to this rectangle (the whole surface by default);
    /// see `setClip`.
    public private(set) var clip: (x0: Int, y0: Int, x1: Int, y1: Int)

    /// A surface filled with `background`.
    public init(width: Int, height: Int, background: RGBColor = .white) {
        self.width = max(1, width)
        self.height = max(1, height)
        pixels = [UInt8](repeating: 0, count: self.width * self.height * 3)
        clip = (0, 0, self.width, self.height)
        fill(x: 0, y: 0, width: self.width, height: self.height, color: background)
    }

    /// Limits drawing to the rectangle (`x`, `y`, `width`, `height`)
    /// intersected with the surface; nil arguments restore the whole surface.
    public mutating func setClip(x: Int? = nil, y: Int? = nil, width w: Int? = nil, height h: Int? = nil) {
        guard let x, let y, let w, let h else {
            clip = (0, 0, width, height)
            return
        }
        clip = (max(0, x), max(0, y), min(width, x + w), min(height, y + h))
    }

    /// The surface as an image.
    public var image: RGBImage { RGBImage(width: width, height: height, pixels: pixels) }

    /// The colour at (`x`, `y`), which must be inside.
    public func color(x: Int, y: Int) -> RGBColor {
        let i = (y * width + x) * 3
        return RGBColor(pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// Sets one pixel (ignored outside the clip rectangle).
    public mutating func set(x: Int, y: Int, color: RGBColor) {
        guard x >= clip.x0, y >= clip.y0, x < clip.x1, y < clip.y1 else { return }
        let i = (y * width + x) * 3
        pixels[i] = color.red; pixels[i + 1] = color.green; pixels[i + 2] = color.blue
    }

    /// Mixes `color` into one pixel with weight `alpha` in 0...1 (ignored
    /// outside the clip rectangle).
    public mutating func blend(x: Int, y: Int, color: RGBColor, alpha: Double) {
        guard x >= clip.x0, y >= clip.y0, x < clip.x1, y < clip.y1, alpha > 0 else { return }
        let a = min(1, alpha)
        let i = (y * width + x) * 3
        func mix(_ old: UInt8, _ new: UInt8) -> UInt8 {
            UInt8(max(0, min(255, (Double(old) * (1 - a) + Double(new) * a).rounded())))
        }
        pixels[i] = mix(pixels[i], color.red)
        pixels[i + 1] = mix(pixels[i + 1], color.green)
        pixels[i + 2] = mix(pixels[i + 2], color.blue)
    }

    /// Fills a rectangle.
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, color: RGBColor) {
        let x0 = max(clip.x0, x), y0 = max(clip.y0, y), x1 = min(clip.x1, x + w), y1 = min(clip.y1, y + h)
        guard x0 < x1, y0 < y1 else { return }
        for row in y0..<y1 {
            var i = (row * width + x0) * 3
            for _ in x0..<x1 {
                pixels[i] = color.red; pixels[i + 1] = color.green; pixels[i + 2] = color.blue
                i += 3
            }
        }
    }

    /// Outlines a rectangle with a border `thickness` pixels wide, inside its bounds.
    public mutating func stroke(x: Int, y: Int, width w: Int, height h: Int, color: RGBColor, thickness: Int = 1) {
        let t = max(1, thickness)
        fill(x: x, y: y, width: w, height: t, color: color)
        fill(x: x, y: y + h - t, width: w, height: t, color: color)
        fill(x: x, y: y, width: t, height: h, color: color)
        fill(x: x + w - t, y: y, width: t, height: h, color: color)
    }

    /// Copies `image` with its top-left corner at (`x`, `y`), clipped.
    public mutating func paste(_ image: RGBImage, x: Int, y: Int) {
        let x0 = max(clip.x0, x), y0 = max(clip.y0, y)
        let x1 = min(clip.x1, x + image.width), y1 = min(clip.y1, y + image.height)
        guard x0 < x1, y0 < y1 else { return }
        let source = image.pixels
        for row in y0..<y1 {
            let from = ((row - y) * image.width + (x0 - x)) * 3
            let to = (row * width + x0) * 3
            for k in 0..<((x1 - x0) * 3) { pixels[to + k] = source[from + k] }
        }
    }

    /// A filled, anti-aliased disc.
    public mutating func disc(centerX cx: Double, centerY cy: Double, radius: Double, color: RGBColor) {
        let x0 = Int((cx - radius - 1).rounded(.down)), x1 = Int((cx + radius + 1).rounded(.up))
        let y0 = Int((cy - radius - 1).rounded(.down)), y1 = Int((cy + radius + 1).rounded(.up))
        for y in y0...y1 {
            for x in x0...x1 {
                let dx = Double(x) + 0.5 - cx, dy = Double(y) + 0.5 - cy
                let coverage = radius + 0.5 - (dx * dx + dy * dy).squareRoot()
                if coverage > 0 { blend(x: x, y: y, color: color, alpha: coverage) }
            }
        }
    }

    /// An anti-aliased polyline `lineWidth` pixels wide through `points`;
    /// with `dash` (on, off lengths in pixels) it is dashed along its length.
    /// Joints are drawn once (coverage is the maximum over the segments), so
    /// they are not darker than the line.
    public mutating func polyline(_ points: [(x: Double, y: Double)], color: RGBColor, lineWidth: Double = 2,
                                  dash: (on: Double, off: Double)? = nil) {
        guard points.count >= 2 else { return }
        let half = max(0.5, lineWidth / 2)
        let margin = half + 1
        let minX = max(clip.x0, Int((points.map(\.x).min() ?? 0) - margin))
        let maxX = min(clip.x1 - 1, Int((points.map(\.x).max() ?? 0) + margin))
        let minY = max(clip.y0, Int((points.map(\.y).min() ?? 0) - margin))
        let maxY = min(clip.y1 - 1, Int((points.map(\.y).max() ?? 0) + margin))
        guard minX <= maxX, minY <= maxY else { return }
        let boxWidth = maxX - minX + 1
        var coverage = [Double](repeating: 0, count: boxWidth * (maxY - minY + 1))
        var travelled = 0.0
        for k in 1..<points.count {
            let a = points[k - 1], b = points[k]
            let dx = b.x - a.x, dy = b.y - a.y
            let length2 = dx * dx + dy * dy
            let length = length2.squareRoot()
            let sx0 = max(minX, Int(min(a.x, b.x) - margin)), sx1 = min(maxX, Int(max(a.x, b.x) + margin))
            let sy0 = max(minY, Int(min(a.y, b.y) - margin)), sy1 = min(maxY, Int(max(a.y, b.y) + margin))
            if sx0 <= sx1 && sy0 <= sy1 {
                for y in sy0...sy1 {
                    for x in sx0...sx1 {
                        let px = Double(x) + 0.5 - a.x, py = Double(y) + 0.5 - a.y
                        let t = length2 > 0 ? max(0, min(1, (px * dx + py * dy) / length2)) : 0
                        if let dash {
                            let along = (travelled + t * length).truncatingRemainder(dividingBy: dash.on + dash.off)
                            if along > dash.on { continue }
                        }
                        let ex = px - t * dx, ey = py - t * dy
                        let c = min(1, half + 0.5 - (ex * ex + ey * ey).squareRoot())
                        let index = (y - minY) * boxWidth + (x - minX)
                        if c > coverage[index] { coverage[index] = c }
                    }
                }
            }
            travelled += length
        }
        for y in minY...maxY {
            for x in minX...maxX {
                let c = coverage[(y - minY) * boxWidth + (x - minX)]
                if c > 0 { blend(x: x, y: y, color: color, alpha: c) }
            }
        }
    }

    /// Draws one line of `text` in `BitmapFont` at `scale` with its top at
    /// `y`; `x` is its left edge, centre or right edge per `alignment`.
    public mutating func text(_ text: String, x: Int, y: Int, color: RGBColor = .text, scale: Int = 1,
                              alignment: TextAlignment = .left) {
        let s = max(1, scale)
        let total = BitmapFont.width(of: text, scale: s)
        var left: Int
        switch alignment {
        case .left: left = x
        case .center: left = x - total / 2
        case .right: left = x - total
        }
        for character in text {
            if let columns = BitmapFont.columns(of: character) {
                for (c, bits) in columns.enumerated() where bits != 0 {
                    for r in 0..<8 where bits & (1 << r) != 0 {
                        fill(x: left + c * s, y: y + r * s, width: s, height: s, color: color)
                    }
                }
            } else {
                // Not printable ASCII: a hollow box in the glyph's place.
                stroke(x: left, y: y, width: BitmapFont.glyphWidth * s, height: BitmapFont.glyphHeight * s,
                       color: color, thickness: s)
            }
            left += BitmapFont.advance * s
        }
    }
}
