import Foundation

/// A labelled contact sheet of retrieval results: one row per text query,
/// the query drawn on the left (wrapped, in `BitmapFont` at twice its size),
/// then its top images left to right, each with its rank and score and its
/// caption below. An image known to be a correct answer gets a green frame,
/// one known to be wrong a grey frame; unknown ones a thin grey frame.
/// Images are scaled to fit `cellSize` (down with Pillow's bicubic filter,
/// up by whole pixel factors so small pictures stay crisp).
public struct RetrievalSheet: Sendable {
    /// One retrieved image.
    public struct Hit: Sendable {
        public var image: RGBImage
        public var caption: String
        public var score: Float
        /// Whether this image answers the query (nil: not known).
        public var isMatch: Bool?

        public init(image: RGBImage, caption: String, score: Float, isMatch: Bool? = nil) {
            self.image = image; self.caption = caption; self.score = score; self.isMatch = isMatch
        }
    }

    /// One query and its hits, best first.
    public struct Row: Sendable {
        public var query: String
        public var hits: [Hit]

        public init(query: String, hits: [Hit]) {
            self.query = query; self.hits = hits
        }
    }

    /// Side of an image cell in pixels.
    public var cellSize: Int
    /// Width of the query column in pixels.
    public var labelWidth: Int
    /// A line drawn above the rows (empty for none).
    public var title: String

    public init(cellSize: Int = 64, labelWidth: Int = 200, title: String = "") {
        self.cellSize = max(8, cellSize)
        self.labelWidth = max(40, labelWidth)
        self.title = title
    }

    static let gap = 10
    static let frame = 2

    /// The sheet as an image.
    public func render(_ rows: [Row]) -> RGBImage {
        let gap = Self.gap, line = BitmapFont.lineHeight
        let columns = max(1, rows.map(\.hits.count).max() ?? 1)
        let cellWidth = max(cellSize + 2 * Self.frame, 16 * BitmapFont.advance)
        let captionHeight = 2 * line + 4
        let labelLines = rows.map { BitmapFont.wrapped($0.query, toWidth: labelWidth, scale: 2, maxLines: 4) }
        let rowHeights = labelLines.map { lines in
            max(cellSize + 2 * Self.frame + captionHeight, lines.count * (2 * line + 2))
        }
        let header = title.isEmpty ? gap : 2 * line + 2 * gap
        let width = gap + labelWidth + gap + columns * (cellWidth + gap)
        let height = header + rowHeights.reduce(0, +) + rows.count * gap + (rows.isEmpty ? gap : 0)
        var canvas = Canvas(width: width, height: height)
        if !title.isEmpty {
            let wrappedTitle = BitmapFont.truncated(title, toWidth: width - 2 * gap, scale: 1)
            canvas.text(wrappedTitle, x: gap, y: gap, color: .text)
        }
        var top = header
        for (index, row) in rows.enumerated() {
            // Separator above every row but the first.
            if index > 0 { canvas.fill(x: gap, y: top - gap / 2, width: width - 2 * gap, height: 1, color: .grid) }
            for (k, text) in labelLines[index].enumerated() {
                canvas.text(text, x: gap, y: top + k * (2 * line + 2), color: .text, scale: 2)
            }
            for (column, hit) in row.hits.enumerated() {
                let left = gap + labelWidth + gap + column * (cellWidth + gap)
                let boxLeft = left + (cellWidth - cellSize - 2 * Self.frame) / 2
                let tile = Self.fit(hit.image, side: cellSize)
                let frameColor: RGBColor
                switch hit.isMatch {
                case .some(true): frameColor = .match
                case .some(false): frameColor = .frame
                case .none: frameColor = .grid
                }
                canvas.stroke(x: boxLeft, y: top, width: cellSize + 2 * Self.frame, height: cellSize + 2 * Self.frame,
                              color: frameColor, thickness: Self.frame)
                canvas.paste(tile, x: boxLeft + Self.frame + (cellSize - tile.width) / 2,
                             y: top + Self.frame + (cellSize - tile.height) / 2)
                let captionTop = top + cellSize + 2 * Self.frame + 3
                let rank = "#\(column + 1) " + String(format: "%.3f", Double(hit.score))
                canvas.text(rank, x: left + cellWidth / 2, y: captionTop,
                            color: hit.isMatch == true ? .match : .axis, alignment: .center)
                canvas.text(BitmapFont.truncated(hit.caption, toWidth: cellWidth), x: left + cellWidth / 2,
                            y: captionTop + line + 1, color: .text, alignment: .center)
            }
            top += rowHeights[index] + gap
        }
        return canvas.image
    }

    /// `image` fitted in `side` x `side`: scaled down (bicubic) when larger,
    /// scaled up by the largest whole factor that fits when smaller.
    static func fit(_ image: RGBImage, side: Int) -> RGBImage {
        if image.width > side || image.height > side { return image.fitted(within: side) }
        let factor = side / max(image.width, image.height)
        guard factor >= 2 else { return image }
        var bytes = [UInt8](repeating: 0, count: image.width * factor * image.height * factor * 3)
        let outWidth = image.width * factor
        let source = image.pixels
        for y in 0..<(image.height * factor) {
            for x in 0..<outWidth {
                let from = ((y / factor) * image.width + x / factor) * 3
                let to = (y * outWidth + x) * 3
                bytes[to] = source[from]; bytes[to + 1] = source[from + 1]; bytes[to + 2] = source[from + 2]
            }
        }
        return RGBImage(width: outWidth, height: image.height * factor, pixels: bytes)
    }
}
