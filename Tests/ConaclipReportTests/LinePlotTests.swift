import Testing
@testable import ConaclipReport

/// The line-plot rasteriser: tick choice, where lines land, dashes and gaps.
@Suite struct LinePlotTests {
    @Test func ticksAreNiceNumbersCoveringTheRange() {
        #expect(LinePlot.niceTicks(low: 0, high: 16, maxCount: 6) == [0, 5, 10, 15, 20])
        // 0.12 / 5 = 0.024 rounds up to a step of 0.05.
        #expect(LinePlot.niceTicks(low: 3.44, high: 3.56, maxCount: 6).map { ($0 * 100).rounded() / 100 }
                == [3.4, 3.45, 3.5, 3.55, 3.6])
        #expect(LinePlot.niceTicks(low: 3.457, high: 3.544, maxCount: 6).map { ($0 * 100).rounded() / 100 }
                == [3.44, 3.46, 3.48, 3.5, 3.52, 3.54, 3.56])
        let small = LinePlot.niceTicks(low: 0.0013, high: 0.0091, maxCount: 6)
        #expect(small.count == 6 && abs(small[1] - 0.002) < 1e-12 && small.last! >= 0.0091)
        #expect(LinePlot.decimals(for: small) == 3)
        #expect(LinePlot.format(0.004, decimals: 3) == "0.004")
        #expect(LinePlot.logTicks(low: -3.2, high: 0.4) == [-4, -3, -2, -1, 0, 1])
        #expect(LinePlot.powerLabel(-2) == "0.01" && LinePlot.powerLabel(3) == "1000" && LinePlot.powerLabel(-7) == "1e-7")
    }

    /// Columns (x) and mean rows of the pixels drawn in `color` (blended pixels count
    /// when they are closer to it than to white).
    static func trace(_ image: RGBImage, color: RGBColor) -> [(x: Int, y: Double)] {
        var out: [(Int, Double)] = []
        for x in 0..<image.width {
            var rows: [Int] = []
            for y in 0..<image.height {
                let p = image[x, y]
                let d = abs(Int(p.red) - Int(color.red)) + abs(Int(p.green) - Int(color.green)) + abs(Int(p.blue) - Int(color.blue))
                if d < 60 { rows.append(y) }
            }
            if !rows.isEmpty { out.append((x, Double(rows.reduce(0, +)) / Double(rows.count))) }
        }
        return out
    }

    @Test func anIncreasingSeriesRisesLeftToRightAndNaNBreaksIt() {
        let color = RGBColor(200, 30, 30)
        let points = (0...20).map { (x: Double($0), y: $0 == 10 ? Double.nan : Double($0)) }
        let plot = LinePlot(title: "", xLabel: "", series: [.init(name: "", points: points, color: color)], showLegend: false)
        let image = plot.render(width: 300, height: 200)
        let traced = Self.trace(image, color: color)
        #expect(traced.count > 150)
        // Higher values are drawn higher up (smaller rows), left to right.
        let left = traced.prefix(20).map(\.y).reduce(0, +) / 20, right = traced.suffix(20).map(\.y).reduce(0, +) / 20
        #expect(left > right + 100)
        // The NaN at x = 10 leaves a gap of columns in the middle.
        let xs = traced.map(\.x)
        let gaps = zip(xs, xs.dropFirst()).filter { $1 - $0 > 3 }
        #expect(gaps.count == 1)
    }

    @Test func dashedSeriesHaveGapsAndLegendsNameTheSeries() {
        let solid = RGBColor(20, 120, 200), dashed = RGBColor(220, 120, 0)
        let plot = LinePlot(title: "two lines", series: [
            .init(name: "solid", points: [(0, 1), (10, 1)], color: solid),
            .init(name: "dashed", points: [(0, 2), (10, 2)], color: dashed, dashed: true),
        ], yRange: 0...3)
        let image = plot.render(width: 400, height: 240)
        let solidColumns = Self.trace(image, color: solid).count
        let dashedColumns = Self.trace(image, color: dashed).count
        #expect(solidColumns > 250)
        #expect(dashedColumns > 100 && dashedColumns < solidColumns * 3 / 4)
        // Both legend swatches and the label text are drawn below the plot: the text colour appears there.
        let bottom = image.cropped(x: 0, y: 200, width: 400, height: 40)
        #expect(Self.trace(bottom, color: .text).count > 40)
    }

    @Test func aGridRendersEveryPanelAtItsSize() {
        let panel = LinePlot(title: "p", series: [.init(name: "a", points: [(0, 0), (1, 1)], color: .black)])
        let grid = PlotGrid(panels: Array(repeating: panel, count: 4), columns: 3, title: "grid")
        let image = grid.render(panelWidth: 200, panelHeight: 150)
        #expect(image.width == 600 && image.height == 28 + 300)
        let untitled = PlotGrid(panels: [panel], columns: 3).render(panelWidth: 200, panelHeight: 150)
        #expect(untitled.width == 200 && untitled.height == 150)
    }
}
