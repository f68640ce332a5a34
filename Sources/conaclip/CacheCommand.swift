import ArgumentParser
import ConaclipCluster
import Foundation

/// `conaclip cache`: the teacher-embedding cache (build, inspect).
struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Build and inspect teacher-embedding caches (the frozen teacher's embeddings of a dataset, computed once).",
        subcommands: [CacheBuildCommand.self, CacheInspectCommand.self, CacheBuildPartCommand.self])
}

/// The dataset options shared by `cache build` and its workers.
struct CacheDatasetOptions: ParsableArguments {
    @Option(help: "Dataset manifest (JSONL, CSV, TSV, base64 TSV) or tar shards.")
    var data: String

    @Option(help: "Keep only this split (train, val, test); default: every record.")
    var split: String?

    @Option(help: "Dataset format (jsonl, csv, tsv, base64-tsv, tar, image-folder); default: detected from the path.")
    var format: String?

    func open() throws -> OpenedDataset {
        var chosen: DatasetFormat?
        if let format {
            guard let parsed = DatasetFormat(rawValue: format) else {
                throw ValidationError("--format must be one of \(DatasetFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            chosen = parsed
        }
        return try DatasetReader.open(path: data, options: DatasetOptions(format: chosen, split: split))
    }

    /// The same options as arguments, for a child process.
    var arguments: [String] {
        var out = ["--data", data]
        if let split { out += ["--split", split] }
        if let format { out += ["--format", format] }
        return out
    }

    func source(teacher: String) -> TeacherCacheSource {
        TeacherCacheSource(teacherPath: teacher, dataPath: data, split: split,
                           chunkSize: TeacherEmbedder.chunkSize, blasCore: BLAS.coreName)
    }
}

/// `conaclip cache build`: embeds every record with the teacher and writes the cache.
struct CacheBuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Embed every record of a dataset with a teacher model and write a teacher-embedding cache.",
        discussion: """
        The cache holds the teacher's raw projected image and text embeddings (not \
        L2-normalised) and is keyed by the teacher's weight digest, its tower config, the \
        dataset digest, the record ids and the preprocessing; training refuses a cache whose \
        key differs. With --workers N > 1, N child processes (one BLAS thread each) embed \
        contiguous slices into part files that are merged in order; the file is bit-identical \
        for every N. The file is written atomically (temporary file, fsync, rename).
        """)

    @Option(help: "Teacher model directory (Hugging Face CLIP layout).")
    var teacher: String

    @OptionGroup var dataset: CacheDatasetOptions

    @Option(help: "Output cache file (replaced atomically if it exists).")
    var out: String

    @Option(help: "Worker processes (each single-threaded).")
    var workers = 1

    @Option(help: "Give up (and stop the workers) after this many seconds.")
    var timeout: Double = 86_400

    func validate() throws {
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() throws {
        BLAS.setThreads(1)
        let start = Date()
        let records = try dataset.open()
        let digest = try records.datasetDigest()
        let header: TeacherCacheHeader
        if workers == 1 {
            let embedder = try TeacherEmbedder(directory: teacher)
            try TeacherCacheBuilder.write(teacher: embedder, dataset: records, datasetDigest: digest,
                                          to: out, source: dataset.source(teacher: teacher))
            header = try TeacherEmbeddingCache.inspect(path: out, verifyPayload: true).header
        } else {
            let teacherPath = teacher
            let datasetArguments = dataset.arguments
            let build = TeacherCacheParallelBuild(executable: try Self.executablePath(), timeout: timeout) { slice, part in
                ["cache", "build-part", "--teacher", teacherPath] + datasetArguments + [
                    "--out", part, "--start", String(slice.lowerBound), "--end", String(slice.upperBound),
                    "--dataset-digest", digest,
                ]
            }
            header = try build.run(recordCount: records.count, workers: workers, into: out)
        }
        let seconds = Date().timeIntervalSince(start)
        print("wrote \(out): \(header.count) records, \(header.dim)-wide image and text embeddings, "
              + "\(workers) worker(s), \(String(format: "%.1f", seconds)) s")
        print("payload_sha256: \(header.payloadSHA256)")
    }

    /// This executable, to start the workers with.
    static func executablePath() throws -> String {
        if let path = Bundle.main.executablePath, FileManager.default.isExecutableFile(atPath: path) { return path }
        let argument = CommandLine.arguments.first ?? ""
        if FileManager.default.isExecutableFile(atPath: argument) { return argument }
        throw ValidationError("cannot find the conaclip executable to start workers with; use --workers 1")
    }
}

/// `conaclip cache build-part`: one worker's slice of `cache build --workers N` (internal).
struct CacheBuildPartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build-part",
        abstract: "Embed records START..<END into a part file (started by `cache build --workers N`).",
        shouldDisplay: false)

    @Option(help: "Teacher model directory.")
    var teacher: String

    @OptionGroup var dataset: CacheDatasetOptions

    @Option(help: "Output part file.")
    var out: String

    @Option(help: "First record (a multiple of the chunk size).")
    var start: Int

    @Option(help: "One past the last record.")
    var end: Int

    @Option(help: "The dataset digest the parent computed (default: compute it).")
    var datasetDigest: String?

    func validate() throws {
        guard start >= 0, end > start else { throw ValidationError("need 0 <= --start < --end") }
        guard start % TeacherEmbedder.chunkSize == 0 else {
            throw ValidationError("--start must be a multiple of \(TeacherEmbedder.chunkSize)")
        }
    }

    func run() throws {
        BLAS.setThreads(1)
        let records = try dataset.open()
        let digest = try datasetDigest ?? records.datasetDigest()
        let embedder = try TeacherEmbedder(directory: teacher)
        try TeacherCacheBuilder.write(teacher: embedder, dataset: records, datasetDigest: digest,
                                      records: start..<end, to: out, source: dataset.source(teacher: teacher))
    }
}

/// `conaclip cache inspect`: prints a cache's header and verifies it.
struct CacheInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print a teacher cache's header and verify its checksums.")

    @Argument(help: "Cache file.")
    var file: String

    @Flag(help: "Skip the payload checksum (the header and sizes are still checked).")
    var noVerify = false

    @Flag(help: "Print the header as JSON (with every record id).")
    var json = false

    func run() throws {
        let cache = try TeacherEmbeddingCache.inspect(path: file, verifyPayload: !noVerify)
        let h = cache.header
        if json {
            print(String(decoding: TeacherCacheLayout.encode(h), as: UTF8.self))
            return
        }
        let p = h.key.preprocessing
        func list(_ values: [Float]) -> String { "[" + values.map { "\($0)" }.joined(separator: ", ") + "]" }
        let lines = [
            "file: \(file)",
            "format: \(h.format) v\(TeacherCacheLayout.version)",
            "records: \(h.count)" + (h.isComplete ? "" : " (part: records \(h.sliceStart)..<\(h.sliceStart + h.count) of \(h.key.recordCount))"),
            "dim: \(h.dim)",
            "embedding: \(h.embedding)",
            "teacher_digest: \(h.key.teacherDigest)",
            "teacher_config_digest: \(h.key.teacherConfigDigest)",
            "dataset_digest: \(h.key.datasetDigest)",
            "record_ids_digest: \(h.key.recordIDsDigest)",
            "preprocessing: size \(p.imageSize), crop \(p.cropSize), \(p.resample), mean \(list(p.mean)), std \(list(p.std)), "
                + "context \(p.contextLength), tokenizer \(p.tokenizerDigest)",
            "first ids: " + h.recordIDs.prefix(5).joined(separator: ", ") + (h.count > 5 ? ", ..." : ""),
            "payload: \(h.payloadBytes) bytes, sha256 \(h.payloadSHA256)",
            "built from: teacher \(h.source.teacherPath), data \(h.source.dataPath)"
                + (h.source.split.map { ", split \($0)" } ?? "")
                + ", chunk \(h.source.chunkSize), BLAS core \(h.source.blasCore)",
            "verified: " + (noVerify ? "header and sizes only (--no-verify)" : "header and payload checksums match"),
        ]
        print(lines.joined(separator: "\n"))
    }
}
