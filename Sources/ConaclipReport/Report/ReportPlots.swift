/// The report's charts: loss terms over steps and recall over steps.
enum ReportPlots {
    /// One panel per logged quantity (total, task, then each distillation
    /// term in log order), each run a line in it. Nil when no run has a log.
    static func lossGrid(_ runs: [RunSummary]) -> PlotGrid? {
        let logged = runs.enumerated().compactMap { i, run in run.history.map { (i, run, $0) } }
            .filter { !$0.2.steps.isEmpty }
        guard !logged.isEmpty else { return nil }
        var names: [String] = []
        for (_, _, history) in logged {
            for name in history.termNames where !names.contains(name) { names.append(name) }
        }
        typealias Extract = (StepMetrics) -> Double
        var quantities: [(title: String, value: Extract)] = [
            ("total loss (weighted sum)", { $0.total }),
            ("task: inter-ss InfoNCE", { $0.task }),
        ]
        for name in names {
            quantities.append((name, { step in step.terms.first { $0.name == name }?.value ?? .nan }))
        }
        let multiple = logged.count > 1
        let panels = quantities.map { quantity -> LinePlot in
            let series = logged.map { index, run, history in
                LinePlot.Series(name: run.label, points: history.steps.map { (Double($0.step), quantity.value($0)) },
                                color: RGBColor.series(index))
            }.filter { $0.points.contains { $0.y.isFinite } }
            return LinePlot(title: quantity.title, xLabel: "step", series: series, showLegend: multiple)
        }
        let title = multiple ? "loss terms over steps (unweighted values)"
            : "\(logged[0].1.label): loss terms over steps (unweighted values)"
        return PlotGrid(panels: panels, columns: min(3, panels.count), title: title)
    }

    /// Mean recall, text-to-image R@1 and image-to-text R@1 by step, one line
    /// (with markers) per run, the teacher as a dashed line. Nil when no run
    /// has a recall point.
    static func recallGrid(_ runs: [RunSummary], teacher: ModelResult?) -> PlotGrid? {
        guard runs.contains(where: { !$0.recallBySteps.isEmpty }) else { return nil }
        let steps = runs.flatMap { $0.recallBySteps.map { Double($0.step) } }
        let low = min(0, steps.min() ?? 0), high = max(1, steps.max() ?? 1)
        let quantities: [(title: String, run: (CheckpointRecall) -> Double, teacher: (ModelResult) -> Double)] = [
            ("mean recall (%)", { $0.meanRecall }, { $0.meanRecall }),
            ("text->image R@1 (%)", { $0.t2iR1 }, { $0.t2i.r1 }),
            ("image->text R@1 (%)", { $0.i2tR1 }, { $0.i2t.r1 }),
        ]
        let panels = quantities.map { quantity -> LinePlot in
            var series = runs.enumerated().map { index, run in
                LinePlot.Series(name: run.label, points: run.recallBySteps.map { (Double($0.step), quantity.run($0)) },
                                color: RGBColor.series(index), markers: true)
            }
            if let teacher {
                let value = quantity.teacher(teacher)
                series.append(LinePlot.Series(name: "teacher", points: [(low, value), (high, value)],
                                              color: RGBColor(60, 60, 60), dashed: true))
            }
            let values = series.flatMap { $0.points.map(\.y) }
            let top = min(100, max(10, (values.max() ?? 0) * 1.15))
            return LinePlot(title: quantity.title, xLabel: "step", series: series, yRange: 0...top)
        }
        return PlotGrid(panels: panels, columns: 3, title: "recall on the evaluation pairs by training step")
    }
}
