import Testing
@testable import ConaclipData

@Suite struct ContactSheetTests {
    @Test func gridGeometryAndPlacement() throws {
        let red = RGBImage(width: 10, height: 6, red: 255, green: 0, blue: 0)
        let blue = RGBImage(width: 4, height: 8, red: 0, green: 0, blue: 255)
        let sheet = ContactSheet(columns: 2, cellSize: nil, spacing: 3).render([red, blue, red])
        // Cells are 10 x 8 (largest width and height); 2 columns, 2 rows.
        #expect(sheet.width == 2 * 10 + 3 * 3)
        #expect(sheet.height == 2 * 8 + 3 * 3)
        // The first image is centred vertically in its cell: y offset (8-6)/2 = 1.
        #expect(sheet[3, 3 + 1] == (255, 0, 0))
        #expect(sheet[3, 3] == (255, 255, 255))
        // The second sits in column 1, centred horizontally: x = 3 + 13 + 3.
        #expect(sheet[3 + 13 + 3, 3] == (0, 0, 255))
        #expect(sheet[3 + 13 + 2, 3] == (255, 255, 255))
        // The empty fourth cell and the spacing stay white.
        #expect(sheet[sheet.width - 4, sheet.height - 4] == (255, 255, 255))
        #expect(sheet[0, 0] == (255, 255, 255))
        let colouredPixels = stride(from: 0, to: sheet.pixels.count, by: 3).filter { sheet.pixels[$0 + 1] == 0 }.count
        #expect(colouredPixels == 2 * 60 + 32)
    }

    @Test func cellSizeScalesLargeImagesDownAndEncodes() throws {
        let big = ImageFixture.pattern(width: 200, height: 50, seed: 3)
        let small = RGBImage(width: 5, height: 5, red: 0, green: 0, blue: 0)
        let layout = ContactSheet(columns: 4, cellSize: 40, spacing: 2)
        let sheet = layout.render([big, small])
        #expect(sheet.width == 2 * 40 + 3 * 2 && sheet.height == 40 + 2 * 2)
        // The big image became 40 x 10, centred vertically at y = 2 + 15.
        #expect(sheet[2, 2 + 14] == (255, 255, 255))
        #expect(sheet.cropped(x: 2, y: 17, width: 40, height: 10) == big.fitted(within: 40))
        // The small one is not enlarged: 5 x 5 centred in the second cell.
        #expect(sheet.cropped(x: 2 + 40 + 2 + 17, y: 2 + 17, width: 5, height: 5) == small)
        let png = try layout.renderPNG([big, small])
        #expect(try ImageCodec.decode(png) == sheet)
    }

    @Test func emptyListGivesABlankSheet() {
        let sheet = ContactSheet(columns: 3, cellSize: 16, spacing: 1).render([])
        #expect(sheet.width == 18 && sheet.height == 18)
        #expect(sheet.pixels.allSatisfy { $0 == 255 })
    }
}
