import Foundation

/// A line chart drawn with `Canvas`: a title, a frame with "nice" ticks
/// (1, 2 or 5 times a power of ten) and light grid lines on both axes, tick
/// labels and axis labels in `BitmapFont`, one line per series (solid or
/// dashed, with optional point markers) and a legend. Non-finite values
/// break a line instead of being drawn. With `logY`, the y axis is log10
/// (non-positive values are left out) and ticks fall on powers of ten.
public struct LinePlot: Sendable {
    /// One line of the chart.
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var color: RGBColor
        public var dashed: Bool
        /// Draw a dot at each point (for sparse series, e.g. evaluations).
        public var markers: Bool

        public init(name: String, points: [(x: Double, y: Double)], color: RGBColor,
                    dashed: Bool = false, markers: Bool = false) {
            self.name = name; self.points = points; self.color = color
            self.dashed = dashed; self.markers = markers
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var logY: Bool
    /// Fixed y range (e.g. 0...100 for recall in percent); nil fits the data.
    public var yRange: ClosedRange<Double>?
    /// Draw the legend (a single-series panel titled after its series may leave it out).
    public var showLegend: Bool

    public init(title: String, xLabel: String = "step", yLabel: String = "", series: [Series],
                logY: Bool = false, yRange: ClosedRange<Double>? = nil, showLegend: Bool = true) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series
        self.logY = logY; self.yRange = yRange; self.showLegend = showLegend
    }

    /// The chart as an image `width` x `height`.
    public func render(width: Int, height: Int) -> RGBImage {
        var canvas = Canvas(width: width, height: height)
        draw(into: &canvas, x: 0, y: 0, width: width, height: height)
        return canvas.image
    }

    /// Draws the chart into the rectangle (`x`, `y`, `width`, `height`) of `canvas`.
    public func draw(into canvas: inout Canvas, x: Int, y: Int, width: Int, height: Int) {
        let scale = 1
        let lineHeight = BitmapFont.lineHeight * scale
        // Data range.
        let transformed: [[(x: Double, y: Double)]] = series.map { s in
            s.points.map { p in (p.x, logY ? (p.y > 0 ? log10(p.y) : .nan) : p.y) }
        }
        let finite = transformed.flatMap { $0 }.filter { $0.x.isFinite && $0.y.isFinite }
        var xLow = finite.map(\.x).min() ?? 0, xHigh = finite.map(\.x).max() ?? 1
        var yLow = finite.map(\.y).min() ?? 0, yHigh = finite.map(\.y).max() ?? 1
        if let yRange {
            yLow = logY ? log10(max(yRange.lowerBound, .leastNormalMagnitude)) : yRange.lowerBound
            yHigh = logY ? log10(max(yRange.upperBound, .leastNormalMagnitude)) : yRange.upperBound
        }
        if xHigh <= xLow { xLow -= 1; xHigh += 1 }
        if yHigh <= yLow {
            let pad = Swift.max(abs(yLow) * 0.1, logY ? 0.5 : 1e-3)
            yLow -= pad; yHigh += pad
        }
        let xTicks = Self.niceTicks(low: xLow, high: xHigh, maxCount: 6)
        let yTicks = logY ? Self.logTicks(low: yLow, high: yHigh) : Self.niceTicks(low: yLow, high: yHigh, maxCount: 6)
        if yRange == nil, !logY, let first = yTicks.first, let last = yTicks.last {
            yLow = Swift.min(yLow, first); yHigh = Swift.max(yHigh, last)
        }
        let xDecimals = Self.decimals(for: xTicks)
        let yDecimals = Self.decimals(for: yTicks)
        let yLabels = yTicks.map { logY ? Self.powerLabel($0) : Self.format($0, decimals: yDecimals) }
        let xLabels = xTicks.map { Self.format($0, decimals: xDecimals) }

        // Layout: title on top, legend below the plot, tick labels left and bottom.
        let legendEntries = showLegend ? series.filter { !$0.name.isEmpty } : []
        let legendRows = Self.legendRows(legendEntries.map(\.name), width: width - 16)
        let titleHeight = title.isEmpty ? 8 : 2 * lineHeight + 10
        let legendHeight = legendRows.isEmpty ? 0 : legendRows.count * (lineHeight + 4) + 6
        let leftMargin = (yLabels.map { BitmapFont.width(of: $0) }.max() ?? 0) + 12
            + (yLabel.isEmpty ? 0 : lineHeight + 2)
        let bottomMargin = lineHeight + 8 + (xLabel.isEmpty ? 0 : lineHeight + 4)
        let rightMargin = 14
        let plotX = x + leftMargin, plotY = y + titleHeight
        let plotWidth = Swift.max(10, width - leftMargin - rightMargin)
        let plotHeight = Swift.max(10, height - titleHeight - bottomMargin - legendHeight)

        // Data keep a few pixels from the left and right edges so end markers stay whole.
        let inset = 6.0
        func px(_ value: Double) -> Double {
            Double(plotX) + inset + (value - xLow) / (xHigh - xLow) * (Double(plotWidth) - 2 * inset)
        }
        func py(_ value: Double) -> Double { Double(plotY + plotHeight) - (value - yLow) / (yHigh - yLow) * Double(plotHeight) }

        if !title.isEmpty {
            canvas.text(BitmapFont.truncated(title, toWidth: width - 8, scale: 2 * scale), x: x + width / 2, y: y + 6,
                        scale: 2 * scale, alignment: .center)
        }
        // Grid and ticks.
        for (tick, label) in zip(yTicks, yLabels) where tick >= yLow - 1e-9 && tick <= yHigh + 1e-9 {
            let row = Int(py(tick).rounded(.down))
            canvas.fill(x: plotX, y: row, width: plotWidth, height: 1, color: .grid)
            canvas.fill(x: plotX - 4, y: row, width: 4, height: 1, color: .axis)
            canvas.text(label, x: plotX - 7, y: row - BitmapFont.glyphHeight / 2, color: .text, alignment: .right)
        }
        for (tick, label) in zip(xTicks, xLabels) where tick >= xLow - 1e-9 && tick <= xHigh + 1e-9 {
            let column = Int(px(tick).rounded(.down))
            canvas.fill(x: column, y: plotY, width: 1, height: plotHeight, color: .grid)
            canvas.fill(x: column, y: plotY + plotHeight, width: 1, height: 4, color: .axis)
            canvas.text(label, x: column, y: plotY + plotHeight + 7, color: .text, alignment: .center)
        }
        canvas.stroke(x: plotX, y: plotY, width: plotWidth + 1, height: plotHeight + 1, color: .axis)
        if !xLabel.isEmpty {
            canvas.text(xLabel, x: plotX + plotWidth / 2, y: plotY + plotHeight + 8 + lineHeight, color: .axis,
                        alignment: .center)
        }
        if !yLabel.isEmpty {
            // Vertical label: one character per line, centred on the axis.
            let label = String(yLabel.prefix(Swift.max(1, plotHeight / lineHeight)))
            let top = plotY + (plotHeight - label.count * lineHeight) / 2
            for (i, character) in label.enumerated() {
                canvas.text(String(character), x: x + 4, y: top + i * lineHeight, color: .axis)
            }
        }

        // Lines, clipped to the inside of the frame.
        canvas.setClip(x: plotX + 1, y: plotY + 1, width: plotWidth - 1, height: plotHeight - 1)
        for (s, points) in zip(series, transformed) {
            var run: [(x: Double, y: Double)] = []
            func flush() {
                if run.count >= 2 {
                    canvas.polyline(run, color: s.color, lineWidth: 2, dash: s.dashed ? (7, 5) : nil)
                } else if run.count == 1, !s.markers {
                    canvas.disc(centerX: run[0].x, centerY: run[0].y, radius: 2, color: s.color)
                }
                run.removeAll()
            }
            for p in points {
                if p.x.isFinite && p.y.isFinite {
                    run.append((px(p.x), py(p.y)))
                } else {
                    flush()
                }
            }
            flush()
            if s.markers {
                for p in points where p.x.isFinite && p.y.isFinite {
                    canvas.disc(centerX: px(p.x), centerY: py(p.y), radius: 3, color: s.color)
                }
            }
        }
        canvas.setClip()

        // Legend.
        var legendY = plotY + plotHeight + bottomMargin + 4
        var entry = 0
        for row in legendRows {
            var legendX = x + 8
            for name in row {
                let s = legendEntries[entry]
                let mid = Double(legendY) + Double(BitmapFont.glyphHeight) / 2
                canvas.polyline([(Double(legendX), mid), (Double(legendX + 18), mid)], color: s.color, lineWidth: 2,
                                dash: s.dashed ? (5, 3) : nil)
                if s.markers { canvas.disc(centerX: Double(legendX + 9), centerY: mid, radius: 3, color: s.color) }
                canvas.text(name, x: legendX + 24, y: legendY, color: .text)
                legendX += 24 + BitmapFont.width(of: name) + 16
                entry += 1
            }
            legendY += lineHeight + 4
        }
    }

    /// Legend names grouped into rows that fit in `width` pixels.
    static func legendRows(_ names: [String], width: Int) -> [[String]] {
        var rows: [[String]] = []
        var current: [String] = []
        var used = 0
        for name in names {
            let needed = 24 + BitmapFont.width(of: name) + 16
            if !current.isEmpty && used + needed > width {
                rows.append(current)
                current = []
                used = 0
            }
            current.append(name)
            used += needed
        }
        if !current.isEmpty { rows.append(current) }
        return rows
    }

    /// Tick positions at 1, 2 or 5 times a power of ten covering `low...high`
    /// with at most about `maxCount` ticks (the first at or below `low`, the
    /// last at or above `high`).
    public static func niceTicks(low: Double, high: Double, maxCount: Int) -> [Double] {
        guard low.isFinite, high.isFinite, high > low, maxCount >= 2 else { return [low] }
        let rough = (high - low) / Double(maxCount - 1)
        let power = pow(10, (log10(rough)).rounded(.down))
        let step = [1.0, 2.0, 5.0, 10.0].map { $0 * power }.first { $0 >= rough * (1 - 1e-9) } ?? 10 * power
        let first = (low / step).rounded(.down) * step
        var ticks: [Double] = []
        var k = 0
        while true {
            let value = first + Double(k) * step
            ticks.append(abs(value) < step * 1e-9 ? 0 : value)
            if value >= high - step * 1e-9 || k > 1000 { break }
            k += 1
        }
        return ticks
    }

    /// Ticks at integer powers of ten (exponents) for a log10 axis spanning
    /// `low...high`; every second or fifth exponent when the span is wide.
    static func logTicks(low: Double, high: Double) -> [Double] {
        let first = low.rounded(.down), last = high.rounded(.up)
        let span = Swift.max(1, Int(last - first))
        let stride = span <= 6 ? 1 : (span <= 12 ? 2 : 5)
        return Swift.stride(from: first, through: last, by: Double(stride)).map { $0 }
    }

    /// Decimals needed to tell evenly spaced ticks apart.
    static func decimals(for ticks: [Double]) -> Int {
        guard ticks.count >= 2 else { return 2 }
        let step = abs(ticks[1] - ticks[0])
        guard step > 0, step.isFinite else { return 2 }
        return Swift.max(0, Swift.min(8, Int((-log10(step)).rounded(.up) + 1e-9)))
    }

    /// A tick label: fixed decimals, or scientific for very large or small values.
    static func format(_ value: Double, decimals: Int) -> String {
        if value == 0 { return "0" }
        if abs(value) >= 1e6 || decimals > 5 { return String(format: "%.1e", value) }
        return String(format: "%.\(decimals)f", value)
    }

    /// The label of a log10 tick: `10^k` as a plain number when short, else `1e{k}`.
    static func powerLabel(_ exponent: Double) -> String {
        let k = Int(exponent.rounded())
        if k >= 0 && k <= 4 { return String(Int(pow(10, Double(k)))) }
        if k < 0 && k >= -3 { return String(format: "%.\(-k)f", pow(10, Double(k))) }
        return "1e\(k)"
    }
}

/// Charts laid out in a grid of equal panels (small multiples), e.g. one
/// panel per loss term so that terms of very different sizes each get a
/// readable y axis.
public struct PlotGrid: Sendable {
    public var panels: [LinePlot]
    public var columns: Int
    public var title: String

    public init(panels: [LinePlot], columns: Int = 3, title: String = "") {
        self.panels = panels; self.columns = max(1, columns); self.title = title
    }

    /// The grid as one image of panels `panelWidth` x `panelHeight`.
    public func render(panelWidth: Int, panelHeight: Int) -> RGBImage {
        let used = max(1, min(columns, panels.count))
        let rows = max(1, (panels.count + used - 1) / used)
        let header = title.isEmpty ? 0 : 2 * BitmapFont.lineHeight + 10
        var canvas = Canvas(width: used * panelWidth, height: header + rows * panelHeight)
        if !title.isEmpty {
            canvas.text(BitmapFont.truncated(title, toWidth: canvas.width - 8, scale: 2), x: canvas.width / 2, y: 6,
                        scale: 2, alignment: .center)
        }
        for (index, panel) in panels.enumerated() {
            let column = index % used, row = index / used
            panel.draw(into: &canvas, x: column * panelWidth, y: header + row * panelHeight,
                       width: panelWidth, height: panelHeight)
        }
        return canvas.image
    }
}
