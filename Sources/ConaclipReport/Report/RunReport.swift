import Foundation

/// What `conaclip report` is asked to summarise.
public struct RunReportOptions: Sendable {
    /// Training run directories (students and baselines); the first one's
    /// config supplies the data and teacher when they are not given.
    public var runs: [String]
    /// Teacher model directory; nil: the first run's teacher directory, or
    /// `RUN/teacher` (a teacher pre-trained on the spot), or none.
    public var teacher: String?
    /// False leaves the teacher out altogether.
    public var useTeacher: Bool
    /// Dataset to evaluate on; nil: the first run's manifest (or held-out
    /// synthetic shapes for a synthetic run).
    public var data: String?
    /// Split of `data` to evaluate ("all" keeps every record).
    public var split: String
    /// Output directory (created; files in it are replaced).
    public var out: String
    /// Text queries in each retrieval contact sheet.
    public var queries: Int
    /// Images per query in the contact sheets.
    public var topK: Int
    /// Images or texts per forward pass.
    public var batch: Int
    /// Also evaluate each run's kept checkpoints, for the recall-over-steps plot.
    public var evaluateCheckpoints: Bool
    /// Pairs in the held-out synthetic set used for synthetic runs.
    public var syntheticPairs: Int

    public init(runs: [String], teacher: String? = nil, useTeacher: Bool = true, data: String? = nil, split: String = "test",
                out: String, queries: Int = 6, topK: Int = 5, batch: Int = 64, evaluateCheckpoints: Bool = true,
                syntheticPairs: Int = 96) {
        self.runs = runs; self.teacher = teacher; self.useTeacher = useTeacher; self.data = data; self.split = split; self.out = out
        self.queries = queries; self.topK = topK; self.batch = batch
        self.evaluateCheckpoints = evaluateCheckpoints; self.syntheticPairs = syntheticPairs
    }
}

/// Why a report could not be made.
public enum ReportError: Error, CustomStringConvertible {
    case invalidArgument(String)
    case run(path: String, reason: String)
    case data(String)
    case model(path: String, reason: String)
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidArgument(reason): return reason
        case let .run(path, reason): return "run \(path): \(reason)"
        case let .data(reason): return "evaluation data: \(reason)"
        case let .model(path, reason): return "model \(path): \(reason)"
        case let .io(path, reason): return "\(path): \(reason)"
        }
    }
}

/// One evaluated model: recall, size and speed.
public struct ModelResult: Sendable, Codable, Equatable {
    /// "teacher" or the run's label.
    public var name: String
    /// "teacher" or "student".
    public var role: String
    public var directory: String
    public var pairs: Int
    public var t2i: RecallAtK
    public var i2t: RecallAtK
    public var meanRecall: Double
    public var parameters: ParameterCounts
    public var sizeBytes: Int
    public var imagesPerSecond: Double
    public var textsPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case name, role, directory, pairs, t2i, i2t, parameters
        case meanRecall = "mean_recall", sizeBytes = "size_bytes"
        case imagesPerSecond = "images_per_second", textsPerSecond = "texts_per_second"
    }
}

/// Recall of one checkpoint of a run.
public struct CheckpointRecall: Sendable, Codable, Equatable {
    public var step: Int
    public var t2iR1: Double
    public var i2tR1: Double
    public var meanRecall: Double

    enum CodingKeys: String, CodingKey {
        case step, t2iR1 = "t2i_r1", i2tR1 = "i2t_r1", meanRecall = "mean_recall"
    }
}

/// What the report found about one training run.
public struct RunSummary: Sendable {
    /// Short unique name (the directory's name), also used in file names.
    public var label: String
    public var directory: String
    /// The model evaluated for the run (`final/`, else the newest checkpoint).
    public var modelDirectory: String
    /// The run's `config.yaml` as written, when present.
    public var configText: String?
    public var history: MetricsHistory?
    /// Recall of the kept checkpoints and the final model, by step.
    public var recallBySteps: [CheckpointRecall]
}

/// The files a report wrote and the numbers in them.
public struct RunReportResult: Sendable {
    public var directory: String
    public var markdownPath: String
    public var jsonPath: String
    public var images: [String]
    public var data: String
    public var models: [ModelResult]
    public var runs: [RunSummary]
}

/// Builds the report of one or more training runs: evaluates the teacher
/// and each run's model on the same pairs (recall both ways, parameters,
/// size on disk, encoding speed measured in this process), plots the loss
/// terms of each run's `metrics.jsonl` and the recall of its checkpoints,
/// draws a retrieval contact sheet per run with the search ranking, and
/// writes `report.md` and `report.json`.
public enum RunReport {
    /// File names inside the output directory.
    public static let markdownName = "report.md"
    public static let jsonName = "report.json"
    public static let lossPlotName = "loss.png"
    public static let recallPlotName = "recall.png"
    /// Size of one plot panel in pixels.
    public static let panelSize = (width: 380, height: 250)

    public static func build(_ options: RunReportOptions, say: (String) -> Void = { _ in }) throws(ReportError) -> RunReportResult {
        guard !options.runs.isEmpty else { throw .invalidArgument("give at least one run directory") }
        guard options.queries >= 0, options.topK > 0, options.batch > 0, options.syntheticPairs > 0 else {
            throw .invalidArgument("queries must be non-negative and top-k, batch and synthetic pairs positive")
        }
        let fileManager = FileManager.default
        do { try fileManager.createDirectory(atPath: options.out, withIntermediateDirectories: true) } catch {
            throw .io(path: options.out, reason: "cannot create the report directory: \((error as NSError).localizedDescription)")
        }

        // Runs, their configs and logs.
        var runs: [RunSummary] = []
        var labels: Set<String> = []
        var firstConfig: TrainingConfig?
        for path in options.runs {
            var label = fileLabel(URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent)
            if labels.contains(label) {
                var n = 2
                while labels.contains("\(label)-\(n)") { n += 1 }
                label = "\(label)-\(n)"
            }
            labels.insert(label)
            let modelDirectory: String
            do { modelDirectory = try ModelDigest.resolveModelDirectory(path) } catch {
                throw .run(path: path, reason: error.description)
            }
            let run = RunDirectory(path: path)
            let configPath = path + "/config.yaml"
            let configText = try? String(contentsOfFile: configPath, encoding: .utf8)
            if firstConfig == nil, configText != nil { firstConfig = try? TrainingConfig.load(path: configPath) }
            var history: MetricsHistory?
            if fileManager.fileExists(atPath: run.metricsPath) {
                do { history = try MetricsHistory.read(path: run.metricsPath) } catch {
                    throw .run(path: path, reason: error.description)
                }
            }
            runs.append(RunSummary(label: label, directory: path, modelDirectory: modelDirectory, configText: configText,
                                   history: history, recallBySteps: []))
        }

        let data = try resolveData(options, config: firstConfig)
        say("data: \(data.description)")
        let teacher = resolveTeacher(options, config: firstConfig)

        // Evaluate the models.
        var models: [ModelResult] = []
        var outcomes: [String: ModelEvaluation.Outcome] = [:]
        if let teacher {
            say("evaluating the teacher \(teacher)")
            let (result, outcome) = try evaluate(directory: teacher, name: "teacher", role: "teacher", data: data, batch: options.batch)
            models.append(result)
            outcomes["teacher"] = outcome
        }
        for index in runs.indices {
            let run = runs[index]
            say("evaluating \(run.label): \(run.modelDirectory)")
            let (result, outcome) = try evaluate(directory: run.modelDirectory, name: run.label, role: "student",
                                                 data: data, batch: options.batch)
            models.append(result)
            outcomes[run.label] = outcome
            runs[index].recallBySteps = try recallBySteps(run, final: result, data: data, options: options, say: say)
        }

        // Pictures.
        var images: [String] = []
        if let loss = ReportPlots.lossGrid(runs) {
            let path = options.out + "/" + lossPlotName
            try write(loss.render(panelWidth: panelSize.width, panelHeight: panelSize.height), to: path)
            images.append(path)
        }
        let teacherResult = models.first { $0.role == "teacher" }
        if let recall = ReportPlots.recallGrid(runs, teacher: teacherResult) {
            let path = options.out + "/" + recallPlotName
            try write(recall.render(panelWidth: panelSize.width, panelHeight: panelSize.height), to: path)
            images.append(path)
        }
        var sheets: [String: String] = [:]
        if options.queries > 0 {
            for run in runs {
                guard let outcome = outcomes[run.label] else { continue }
                let sheet = try retrievalSheet(outcome: outcome, data: data, label: run.label, options: options)
                let name = "retrieval-\(run.label).png"
                try write(sheet, to: options.out + "/" + name)
                images.append(options.out + "/" + name)
                sheets[run.label] = name
            }
        }

        // Text.
        let markdown = ReportMarkdown.render(data: data.description, split: options.split, models: models, runs: runs,
                                             hasLossPlot: images.contains(options.out + "/" + lossPlotName),
                                             hasRecallPlot: images.contains(options.out + "/" + recallPlotName),
                                             sheets: sheets, topK: options.topK)
        let markdownPath = options.out + "/" + markdownName
        let jsonPath = options.out + "/" + jsonName
        try write(text: markdown, to: markdownPath)
        try write(text: ReportMarkdown.json(data: data.description, split: options.split, models: models, runs: runs),
                  to: jsonPath)
        return RunReportResult(directory: options.out, markdownPath: markdownPath, jsonPath: jsonPath, images: images,
                               data: data.description, models: models, runs: runs)
    }

    /// A run or model name reduced to letters, digits, `.`, `_` and `-` (for file names).
    static func fileLabel(_ name: String) -> String {
        let cleaned = String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "-" })
        return cleaned.isEmpty || cleaned.allSatisfy({ $0 == "." }) ? "run" : cleaned
    }

    static func resolveData(_ options: RunReportOptions, config: TrainingConfig?) throws(ReportError) -> ReportData {
        let split = options.split == "all" ? nil : options.split
        func open(_ path: String) throws(ReportError) -> ReportData {
            do {
                let dataset = try DatasetReader.open(path: path, options: DatasetOptions(split: split))
                return ReportData(dataset: dataset, description: "`\(path)`, split \(split ?? "all"): \(dataset.count) pairs")
            } catch {
                throw .data("\(error) (choose the data with --data and the split with --split)")
            }
        }
        if let data = options.data { return try open(data) }
        switch config?.data {
        case let .manifest(path, _, _)?:
            return try open(path)
        case let .synthetic(_, seed)?:
            return ReportData(syntheticPairs: options.syntheticPairs, seed: seed &+ 1)
        case nil:
            throw .data("the first run has no readable config.yaml naming its data; give --data MANIFEST")
        }
    }

    static func resolveTeacher(_ options: RunReportOptions, config: TrainingConfig?) -> String? {
        guard options.useTeacher else { return nil }
        if let teacher = options.teacher { return teacher }
        if case let .directory(path)? = config?.teacher, FileManager.default.fileExists(atPath: path + "/config.json") {
            return path
        }
        let onTheSpot = options.runs[0] + "/teacher"
        return FileManager.default.fileExists(atPath: onTheSpot + "/config.json") ? onTheSpot : nil
    }

    static func evaluate(directory: String, name: String, role: String, data: ReportData,
                         batch: Int) throws(ReportError) -> (ModelResult, ModelEvaluation.Outcome) {
        let encoder: CLIPEncoder
        do { encoder = try CLIPEncoder(directory: directory, chunkSize: batch) } catch {
            throw .model(path: directory, reason: "\(error)")
        }
        var indexOf: [String: Int] = [:]
        for (i, record) in data.records.enumerated() { indexOf[record.id] = i }
        let outcome: ModelEvaluation.Outcome
        do {
            let evaluation = try ModelEvaluation(encoder: encoder, modelPath: directory, batch: batch)
            outcome = try evaluation.run(records: data.records) { record, report throws(DatasetError) in
                try data.image(of: record, index: indexOf[record.id] ?? 0, report: &report)
            }
        } catch {
            throw .model(path: directory, reason: error.description)
        }
        let size: Int
        do { size = try ModelEvaluation.weightBytes(directory: directory) } catch {
            throw .model(path: directory, reason: error.description)
        }
        let result = ModelResult(
            name: name, role: role, directory: directory, pairs: outcome.records.count,
            t2i: outcome.retrieval.textToImage, i2t: outcome.retrieval.imageToText,
            meanRecall: outcome.retrieval.meanRecall, parameters: ParameterCounts(model: encoder.model),
            sizeBytes: size, imagesPerSecond: outcome.throughput.imagesPerSecond,
            textsPerSecond: outcome.throughput.textsPerSecond)
        return (result, outcome)
    }

    /// Recall of the run's kept checkpoints (when asked) and of its evaluated model, by step.
    static func recallBySteps(_ run: RunSummary, final: ModelResult, data: ReportData, options: RunReportOptions,
                              say: (String) -> Void) throws(ReportError) -> [CheckpointRecall] {
        let directory = RunDirectory(path: run.directory)
        let checkpoints = directory.checkpointSteps().filter {
            FileManager.default.fileExists(atPath: directory.checkpointPath(step: $0) + "/config.json")
        }
        // The step of the evaluated model: the checkpoint it is, else (final/) the run's total steps.
        var finalStep = run.history?.steps.last?.step
        if let newest = checkpoints.last,
           let bytes = try? Data(contentsOf: URL(fileURLWithPath: directory.checkpointPath(step: newest) + "/" + TrainingCheckpoint.stateFileName)),
           let state = try? JSONDecoder().decode(TrainingState.self, from: bytes) {
            finalStep = state.totalSteps
        }
        if let step = checkpoints.first(where: { directory.checkpointPath(step: $0) == run.modelDirectory }) { finalStep = step }
        var points: [CheckpointRecall] = []
        // A checkpoint at the evaluated model's step holds the same weights: it is not evaluated again.
        for step in checkpoints where options.evaluateCheckpoints && step != finalStep {
            say("evaluating \(run.label) checkpoint at step \(step)")
            let (result, _) = try evaluate(directory: directory.checkpointPath(step: step), name: run.label, role: "student",
                                           data: data, batch: options.batch)
            points.append(CheckpointRecall(step: step, t2iR1: result.t2i.r1, i2tR1: result.i2t.r1, meanRecall: result.meanRecall))
        }
        if let finalStep, !points.contains(where: { $0.step == finalStep }) {
            points.append(CheckpointRecall(step: finalStep, t2iR1: final.t2i.r1, i2tR1: final.i2t.r1, meanRecall: final.meanRecall))
        }
        return points.sorted { $0.step < $1.step }
    }

    /// The retrieval contact sheet of one model: `options.queries` captions
    /// spread evenly over the evaluated pairs (distinct captions), each with
    /// its top images by the search ranking; a green frame marks the
    /// caption's own picture (or an identical one).
    static func retrievalSheet(outcome: ModelEvaluation.Outcome, data: ReportData, label: String,
                               options: RunReportOptions) throws(ReportError) -> RGBImage {
        let count = outcome.records.count
        let dim = outcome.imageEmbeddings.shape.last ?? 0
        var chosen: [Int] = []
        var captions: Set<String> = []
        let wanted = min(options.queries, count)
        var k = 0
        while chosen.count < wanted && k < count {
            // Evenly spread first, then fill with the remaining records in order.
            let index = k < wanted ? k * count / max(1, wanted) : k
            if !chosen.contains(index), captions.insert(outcome.records[index].caption).inserted { chosen.append(index) }
            k += 1
        }
        var queries: [Float] = []
        for index in chosen { queries += outcome.textEmbeddings.scalars[(index * dim)..<((index + 1) * dim)] }
        let ranked = SearchRanking.topK(queries: queries, gallery: outcome.imageEmbeddings.scalars, dim: dim, k: options.topK)
        var indexOf: [String: Int] = [:]
        for (i, record) in data.records.enumerated() { indexOf[record.id] = i }
        var rows: [RetrievalSheet.Row] = []
        for (query, hits) in zip(chosen, ranked) {
            var cells: [RetrievalSheet.Hit] = []
            for hit in hits {
                let record = outcome.records[hit.index]
                let image: RGBImage
                do { image = try data.image(at: indexOf[record.id] ?? 0) } catch {
                    throw .data(error.description)
                }
                cells.append(RetrievalSheet.Hit(image: image, caption: record.caption, score: hit.score,
                                                isMatch: outcome.groups[hit.index] == outcome.groups[query]))
            }
            rows.append(RetrievalSheet.Row(query: outcome.records[query].caption, hits: cells))
        }
        let title = "\(label): top \(options.topK) of \(count) images for \(rows.count) captions (green frame: the caption's own picture)"
        return RetrievalSheet(cellSize: 64, labelWidth: 220, title: title).render(rows)
    }

    static func write(_ image: RGBImage, to path: String) throws(ReportError) {
        do { try image.writePNG(toFile: path) } catch { throw .io(path: path, reason: error.description) }
    }

    static func write(text: String, to path: String) throws(ReportError) {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw .io(path: path, reason: "cannot write: \((error as NSError).localizedDescription)")
        }
    }
}
