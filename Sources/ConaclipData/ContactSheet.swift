/// Lays images out in a grid on a white background, left to right and top to
/// bottom, for eyeballing a dataset sample or retrieval results. There are no
/// captions (that would need a font); keep the image order meaningful instead.
public struct ContactSheet: Sendable {
    /// Images per row (at least 1).
    public var columns: Int
    /// When set, each cell is `cellSize` x `cellSize` and larger images are
    /// scaled down (bicubic, aspect kept) to fit; when nil, cells are as large
    /// as the largest image. Images smaller than their cell are centred.
    public var cellSize: Int?
    /// Gap between cells and around the border, in pixels.
    public var spacing: Int

    public init(columns: Int = 8, cellSize: Int? = 96, spacing: Int = 4) {
        self.columns = max(1, columns)
        self.cellSize = cellSize.map { max(1, $0) }
        self.spacing = max(0, spacing)
    }

    /// The grid as an image. An empty list gives a blank sheet of one cell.
    public func render(_ images: [RGBImage]) -> RGBImage {
        let tiles = cellSize.map { side in images.map { $0.fitted(within: side) } } ?? images
        let cellWidth = cellSize ?? tiles.map(\.width).max() ?? 1
        let cellHeight = cellSize ?? tiles.map(\.height).max() ?? 1
        let used = max(1, min(columns, tiles.count))
        let rows = max(1, (tiles.count + used - 1) / used)
        let width = used * cellWidth + (used + 1) * spacing
        let height = rows * cellHeight + (rows + 1) * spacing
        var sheet = RGBImage(width: width, height: height)
        for (index, tile) in tiles.enumerated() {
            let column = index % used, row = index / used
            let x = spacing + column * (cellWidth + spacing) + (cellWidth - tile.width) / 2
            let y = spacing + row * (cellHeight + spacing) + (cellHeight - tile.height) / 2
            sheet.paste(tile, x: x, y: y)
        }
        return sheet
    }

    /// The grid as PNG bytes.
    public func renderPNG(_ images: [RGBImage]) throws(ImageCodecError) -> [UInt8] {
        try PNGCodec.encode(render(images))
    }
}
