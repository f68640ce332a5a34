import Foundation
import Testing
@testable import ConaclipModels

/// Fixtures written by Tests/Reference/make_safetensors_fixture.py.
private enum SafeTensorsFixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/safetensors")
    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    static func bytes(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: directory.appendingPathComponent(name))) }
}

/// Fresh empty directories for the checkpoint tests.
enum CheckpointTestScratch {
    /// A new empty directory under the system temporary directory; the caller removes it.
    static func make(_ label: String) throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("conaclip-\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// Bytes of a safetensors file with the given header text and data size (data bytes are 0x5A).
private func rawFile(header: String, dataBytes: Int, declaredHeaderSize: UInt64? = nil) -> [UInt8] {
    let json = Array(header.utf8)
    var out: [UInt8] = []
    withUnsafeBytes(of: (declaredHeaderSize ?? UInt64(json.count)).littleEndian) { out.append(contentsOf: $0) }
    out += json
    out += [UInt8](repeating: 0x5A, count: dataBytes)
    return out
}

private func expectError(_ expected: SafeTensorsError, header: String, dataBytes: Int,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(throws: expected, sourceLocation: sourceLocation) {
        _ = try SafeTensorsFile(contents: rawFile(header: header, dataBytes: dataBytes), name: "hostile.safetensors")
    }
}

@Suite struct HalfPrecisionTests {
    #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
    @Test func widensEveryFloat16PatternLikeTheHardwareType() {
        var failures: [UInt16] = []
        for raw in 0...UInt16.max {
            let ours = HalfPrecision.float(fromFloat16: raw)
            let reference = Float(Float16(bitPattern: raw))
            let same = reference.isNaN ? (ours.isNaN && ours.sign == reference.sign) : ours.bitPattern == reference.bitPattern
            if !same { failures.append(raw) }
        }
        #expect(failures.isEmpty, "first mismatching patterns: \(failures.prefix(5))")
    }

    @Test func narrowsToFloat16LikeTheHardwareType() {
        var generator = SystemRandomNumberGenerator()
        var samples: [Float] = []
        // Every F16 value, the midpoints between neighbours and one float-ulp either side.
        for raw in UInt16(0)...0x7BFF {
            let low = Float(Float16(bitPattern: raw))
            let high = Float(Float16(bitPattern: raw + 1))
            let mid = (low + high) / 2
            samples += [low, mid, mid.nextUp, mid.nextDown, -mid, -mid.nextUp]
        }
        for _ in 0..<100_000 { samples.append(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &generator))) }
        samples += [65504, 65519.996, 65520, 1e10, -1e10, .infinity, -.infinity, 0x1p-25, 0x1p-26, -0.0]
        let failures = samples.filter { !$0.isNaN && HalfPrecision.float16Bits(from: $0) != Float16($0).bitPattern }
        #expect(samples.count > 250_000)
        #expect(failures.isEmpty, "first mismatching values: \(failures.prefix(5).map(\.bitPattern))")
    }
    #endif

    @Test func float16EdgeValues() {
        #expect(HalfPrecision.float(fromFloat16: 0x0001) == 0x1p-24)           // smallest subnormal
        #expect(HalfPrecision.float(fromFloat16: 0x03FF) == 1023 * 0x1p-24)    // largest subnormal
        #expect(HalfPrecision.float(fromFloat16: 0x0400) == 0x1p-14)           // smallest normal
        #expect(HalfPrecision.float(fromFloat16: 0x7BFF) == 65504)
        #expect(HalfPrecision.float(fromFloat16: 0x7C00) == .infinity)
        #expect(HalfPrecision.float(fromFloat16: 0xFC00) == -.infinity)
        #expect(HalfPrecision.float(fromFloat16: 0x8000).bitPattern == (-0.0 as Float).bitPattern)
        #expect(HalfPrecision.float(fromFloat16: 0x7E00).isNaN)
        #expect(HalfPrecision.float16Bits(from: 65519) == 0x7BFF)       // below the overflow tie
        #expect(HalfPrecision.float16Bits(from: 65520) == 0x7C00)       // the tie rounds to even: infinity
        #expect(HalfPrecision.float16Bits(from: 0x1p-25) == 0x0000)     // tie between 0 and the smallest subnormal
        #expect(HalfPrecision.float16Bits(from: 0x1.8p-25) == 0x0001)
        #expect(HalfPrecision.float16Bits(from: 3 * 0x1p-25) == 0x0002) // tie between 1 and 2 units: even
        #expect(HalfPrecision.float16Bits(from: 1 + 0x1p-11) == 0x3C00) // tie: to even (down)
        #expect(HalfPrecision.float16Bits(from: 1 + 3 * 0x1p-11) == 0x3C02)
        #expect(HalfPrecision.float16Bits(from: -.nan) & 0xFE00 == 0xFE00)
        #expect(HalfPrecision.float16Bits(from: -0.0) == 0x8000)
    }

    @Test func bfloat16RoundsToNearestEven() {
        var generator = SystemRandomNumberGenerator()
        var samples = (0..<200_000).map { _ in Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &generator)) }
        // Exact ties, half of them with an odd upper half.
        samples += (0..<2_000).map { _ in Float(bitPattern: (UInt32.random(in: 0...0x7F7E, using: &generator) << 16) | 0x8000) }
        var failures: [Float] = []
        var ties = 0
        for value in samples where value.isFinite {
            let bits = HalfPrecision.bfloat16Bits(from: value)
            let result = HalfPrecision.float(fromBFloat16: bits)
            // The neighbours of the chosen value in BF16; the input must be no closer to either.
            let below = HalfPrecision.float(fromBFloat16: bits &- 1)
            let above = HalfPrecision.float(fromBFloat16: bits &+ 1)
            let error = abs(Double(value) - Double(result))
            var good = true
            if result.isFinite {
                if below.isFinite && below.sign == result.sign && error > abs(Double(value) - Double(below)) { good = false }
                if above.isFinite && above.sign == result.sign && error > abs(Double(value) - Double(above)) { good = false }
            }
            if value.bitPattern & 0xFFFF == 0x8000 {  // exact tie: the result is even
                ties += 1
                if bits & 1 != 0 { good = false }
            }
            if !good { failures.append(value) }
        }
        #expect(ties >= 2_000)
        #expect(failures.isEmpty, "first misrounded values: \(failures.prefix(5).map(\.bitPattern))")
        #expect(HalfPrecision.bfloat16Bits(from: 1 + 0x1p-8) == 0x3F80)
        #expect(HalfPrecision.bfloat16Bits(from: 1 + 3 * 0x1p-8) == 0x3F82)
        #expect(HalfPrecision.bfloat16Bits(from: .greatestFiniteMagnitude) == 0x7F80)  // above the last tie: infinity
        #expect(HalfPrecision.bfloat16Bits(from: Float(bitPattern: 0x7F7F_7FFF)) == 0x7F7F)
        #expect(HalfPrecision.bfloat16Bits(from: Float(bitPattern: 0x7F80_0001)) == 0x7FC0)  // signalling NaN stays NaN
        #expect(HalfPrecision.bfloat16Bits(from: Float(bitPattern: 0xFFC0_0000)) == 0xFFC0)
        #expect(HalfPrecision.bfloat16Bits(from: Float(bitPattern: 0x0000_8001)) == 0x0001)  // subnormal rounds up
        #expect(HalfPrecision.float(fromBFloat16: 0x0001) == Float(bitPattern: 0x0001_0000))
    }
}

@Suite struct SafeTensorsTests {
    static let edges: [Float] = [
        0, -0.0, 1, -1.5, .leastNormalMagnitude, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
        .greatestFiniteMagnitude, .infinity, -.infinity, .nan, Float(bitPattern: 0x7FA0_0001), 1.0 / 3.0,
    ]

    @Test func float32RoundTripIsBitExact() throws {
        var writer = SafeTensorsWriter(dtype: .float32, metadata: ["note": "edges"])
        writer.add("edges", try Tensor(shape: [13], scalars: Self.edges))
        writer.add("scalar", try Tensor(shape: [], scalars: [2.6592]))
        writer.add("empty", try Tensor(shape: [0, 4], scalars: []))
        let file = try SafeTensorsFile(contents: try writer.encoded(), name: "f32")
        #expect(try file.tensor(named: "edges").scalars.map(\.bitPattern) == Self.edges.map(\.bitPattern))
        #expect(try file.tensor(named: "scalar") == Tensor(shape: [], scalars: [2.6592]))
        #expect(try file.tensor(named: "empty").shape == [0, 4])
        #expect(file.metadata == ["note": "edges"])
        #expect(file.names == ["edges", "empty", "scalar"])
    }

    @Test(arguments: [WeightDType.float16, .bfloat16])
    func halfPrecisionRoundTrip(dtype: WeightDType) throws {
        var writer = SafeTensorsWriter(dtype: dtype)
        writer.add("edges", try Tensor(shape: [13], scalars: Self.edges))
        let file = try SafeTensorsFile(contents: try writer.encoded(), name: dtype.rawValue)
        #expect(try file.entry(named: "edges").dtype == dtype.safeTensorsDType)
        let back = try file.tensor(named: "edges").scalars
        for (value, read) in zip(Self.edges, back) {
            let expected: Float = dtype == .float16
                ? HalfPrecision.float(fromFloat16: HalfPrecision.float16Bits(from: value))
                : HalfPrecision.float(fromBFloat16: HalfPrecision.bfloat16Bits(from: value))
            if value.isNaN { #expect(read.isNaN) } else { #expect(read.bitPattern == expected.bitPattern, "\(value)") }
        }
        // Values representable in the format survive exactly, including signed zero and infinities.
        #expect(back[0].bitPattern == 0 && back[1].bitPattern == (-0.0 as Float).bitPattern)
        #expect(back[2] == 1 && back[3] == -1.5 && back[8] == .infinity && back[9] == -.infinity)
        // Rounded once, a second trip changes nothing.
        var again = SafeTensorsWriter(dtype: dtype)
        again.add("edges", try Tensor(shape: [13], scalars: back))
        #expect(try again.encoded() == (try writer.encoded()))
    }

    @Test func readsTheFileWrittenByPythonSafetensors() throws {
        struct Expected: Decodable {
            let dtype: String
            let shape: [Int]
            let f32_bits: [String]
        }
        let expected = try JSONDecoder().decode(
            [String: Expected].self, from: Data(try SafeTensorsFixture.bytes("mixed_dtypes.expected.json")))
        let file = try SafeTensorsFile(path: SafeTensorsFixture.path("mixed_dtypes.safetensors"))
        #expect(file.metadata["format"] == "pt")
        #expect(Set(file.names) == Set(expected.keys).union(["text_model.embeddings.position_ids"]))
        for (name, want) in expected {
            let entry = try file.entry(named: name)
            #expect(entry.dtype.rawValue == want.dtype, "\(name)")
            let tensor = try file.tensor(named: name)
            #expect(tensor.shape == want.shape, "\(name)")
            #expect(tensor.scalars.map { String(format: "%08x", $0.bitPattern) } == want.f32_bits, "\(name)")
        }
        #expect(expected["f16_edges"]?.dtype == "F16" && expected["bf16_edges"]?.dtype == "BF16")
        #expect(try file.entry(named: "text_model.embeddings.position_ids").dtype == .i64)
        #expect(throws: SafeTensorsError.unsupportedDType(path: file.path, tensor: "text_model.embeddings.position_ids", dtype: .i64)) {
            _ = try file.tensor(named: "text_model.embeddings.position_ids")
        }
        #expect(throws: SafeTensorsError.tensorNotFound(path: file.path, tensor: "nope")) { _ = try file.tensor(named: "nope") }
    }

    /// Reading Python's F32 file into a store and writing it back in each
    /// precision reproduces Python's files byte for byte: the same header
    /// layout and torch's round-to-nearest-even narrowing.
    @Test(arguments: [WeightDType.float32, .float16, .bfloat16])
    func writesTheSameBytesAsPythonSafetensors(dtype: WeightDType) throws {
        let source = try SafeTensorsFile(path: SafeTensorsFixture.path("params.f32.safetensors"))
        var layout = ParameterLayout()
        for name in source.names { try layout.add(name, shape: try source.entry(named: name).shape) }
        let store = ParameterStore(layout: layout)
        try source.load(into: store)
        let suffix = ["F32": "f32", "F16": "f16", "BF16": "bf16"][dtype.rawValue] ?? ""
        let python = try SafeTensorsFixture.bytes("params.\(suffix).safetensors")
        let ours = try SafeTensors.writer(for: store, dtype: dtype).encoded()
        #expect(ours.count == python.count)
        #expect(ours == python)
        // And the narrowed file reads back as the narrowed values.
        let narrowed = try SafeTensorsFile(path: SafeTensorsFixture.path("params.\(suffix).safetensors"))
        let weight = try narrowed.tensor(named: "layer.weight").scalars
        let original = try source.tensor(named: "layer.weight").scalars
        for (a, b) in zip(weight, original) {
            let expected = dtype == .float32 ? b : dtype == .float16
                ? HalfPrecision.float(fromFloat16: HalfPrecision.float16Bits(from: b))
                : HalfPrecision.float(fromBFloat16: HalfPrecision.bfloat16Bits(from: b))
            #expect(a.bitPattern == expected.bitPattern)
        }
    }

    @Test func writerOutputIsDeterministicAndPadded() throws {
        var a = SafeTensorsWriter(metadata: ["b": "2", "a": "quote \" and \\ and \n"])
        var b = SafeTensorsWriter(metadata: ["a": "quote \" and \\ and \n", "b": "2"])
        let tensors = [("z.weight", [2, 3]), ("a.bias", [3]), ("m", [1, 1, 1]), ("é", [2])]
        for (name, shape) in tensors {
            let values = (0..<shape.reduce(1, *)).map { Float($0) * 0.25 }
            a.add(name, try Tensor(shape: shape, scalars: values))
        }
        for (name, shape) in tensors.reversed() {
            let values = (0..<shape.reduce(1, *)).map { Float($0) * 0.25 }
            b.add(name, try Tensor(shape: shape, scalars: values))
        }
        let bytes = try a.encoded()
        #expect(bytes == (try b.encoded()))
        let headerSize = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerSize % 8 == 0)
        let file = try SafeTensorsFile(contents: bytes, name: "det")
        #expect(file.names == ["a.bias", "m", "z.weight", "é"])
        #expect(file.metadata["a"] == "quote \" and \\ and \n")
        #expect(try file.entry(named: "a.bias").dataOffsets == 0..<12)
        #expect(try file.entry(named: "m").dataOffsets == 12..<16)
        #expect(try file.tensor(named: "z.weight").scalars == [0, 0.25, 0.5, 0.75, 1, 1.25])
    }

    @Test func writerRefusesReservedNames() throws {
        var writer = SafeTensorsWriter()
        writer.add("__metadata__", Tensor(zeros: [1]))
        #expect(throws: SafeTensorsError.invalidTensorName(path: "<memory>", tensor: "__metadata__")) { _ = try writer.encoded() }
    }

    @Test func writesFilesAtomically() throws {
        let directory = try CheckpointTestScratch.make("st")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/w.safetensors"
        var writer = SafeTensorsWriter(dtype: .bfloat16)
        writer.add("x", try Tensor(shape: [2], scalars: [1, -2]))
        try writer.write(to: path)
        try writer.write(to: path)  // replacing an existing file
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["w.safetensors"])
        #expect(try SafeTensorsFile(path: path).tensor(named: "x").scalars == [1, -2])
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == (try writer.encoded()))
    }

    // MARK: - Hostile files

    @Test func refusesTruncatedFiles() throws {
        let good = try SafeTensorsFixture.bytes("params.f32.safetensors")
        let directory = try CheckpointTestScratch.make("st")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cutData = directory + "/cut-data.safetensors"
        try Data(good.dropLast(10)).write(to: URL(fileURLWithPath: cutData))
        // Entries are checked in name order, so the first tensor past the end is reported.
        #expect(throws: SafeTensorsError.offsetsOutOfBounds(path: cutData, tensor: "layer.weight", begin: 120, end: 312, dataSize: 306)) {
            _ = try SafeTensorsFile(path: cutData)
        }
        let cutHeader = directory + "/cut-header.safetensors"
        try Data(good.prefix(100)).write(to: URL(fileURLWithPath: cutHeader))
        #expect(throws: SafeTensorsError.headerPastEnd(path: cutHeader, headerSize: 376, fileSize: 100)) {
            _ = try SafeTensorsFile(path: cutHeader)
        }
        let tiny = directory + "/tiny.safetensors"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: tiny))
        #expect(throws: SafeTensorsError.tooShort(path: tiny, size: 3)) { _ = try SafeTensorsFile(path: tiny) }
        #expect(throws: SafeTensorsError.self) { _ = try SafeTensorsFile(path: directory) }  // a directory, not a file
        let missing = directory + "/missing.safetensors"
        #expect(throws: SafeTensorsError.io(FileIOError(path: missing, operation: "open", code: ENOENT))) {
            _ = try SafeTensorsFile(path: missing)
        }
    }

    @Test func refusesBadHeaderLengths() {
        let huge = rawFile(header: "{}", dataBytes: 0, declaredHeaderSize: 1 << 40)
        #expect(throws: SafeTensorsError.headerTooLarge(path: "h", headerSize: 1 << 40, limit: SafeTensors.maximumHeaderSize)) {
            _ = try SafeTensorsFile(contents: huge, name: "h")
        }
        let past = rawFile(header: "{}", dataBytes: 0, declaredHeaderSize: 1000)
        #expect(throws: SafeTensorsError.headerPastEnd(path: "h", headerSize: 1000, fileSize: 10)) {
            _ = try SafeTensorsFile(contents: past, name: "h")
        }
        let maxLength = rawFile(header: "{}", dataBytes: 0, declaredHeaderSize: .max)
        #expect(throws: SafeTensorsError.self) { _ = try SafeTensorsFile(contents: maxLength, name: "h") }
    }

    @Test func refusesHeadersThatAreNotJSONObjects() {
        for header in ["not json at all", "{\"a\": ", "[1, 2, 3]", "", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} trailing"] {
            #expect(throws: SafeTensorsError.self, "\(header)") {
                _ = try SafeTensorsFile(contents: rawFile(header: header, dataBytes: 4), name: "h")
            }
            do {
                _ = try SafeTensorsFile(contents: rawFile(header: header, dataBytes: 4), name: "h")
            } catch {
                guard case .headerNotJSON(path: "h", _) = error else {
                    Issue.record("\(header): expected headerNotJSON, got \(error)")
                    continue
                }
            }
        }
        var invalidUTF8 = rawFile(header: "{\"a\":\"xx\"}", dataBytes: 0)
        invalidUTF8[14] = 0xFF
        #expect(throws: SafeTensorsError.headerNotJSON(path: "h", reason: "it is not valid UTF-8")) {
            _ = try SafeTensorsFile(contents: invalidUTF8, name: "h")
        }
    }

    @Test func refusesMalformedEntries() {
        expectError(.unknownDType(path: "hostile.safetensors", tensor: "w", dtype: "F33"),
                    header: #"{"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 4)
        expectError(.sizeMismatch(path: "hostile.safetensors", tensor: "w", dtype: .f32, shape: [2, 3], expectedBytes: 24, actualBytes: 20),
                    header: #"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#, dataBytes: 20)
        expectError(.sizeMismatch(path: "hostile.safetensors", tensor: "w", dtype: .bf16, shape: [2], expectedBytes: 4, actualBytes: 8),
                    header: #"{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8)
        expectError(.overlappingTensors(path: "hostile.safetensors", first: "a", second: "b"),
                    header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                    dataBytes: 12)
        expectError(.unindexedBytes(path: "hostile.safetensors", begin: 4, end: 8),
                    header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
                    dataBytes: 12)
        expectError(.unindexedBytes(path: "hostile.safetensors", begin: 4, end: 16),
                    header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 16)
        expectError(.offsetsOutOfBounds(path: "hostile.safetensors", tensor: "a", begin: 0, end: 400, dataSize: 8),
                    header: #"{"a":{"dtype":"F32","shape":[100],"data_offsets":[0,400]}}"#, dataBytes: 8)
        expectError(.invalidMetadata(path: "hostile.safetensors", reason: "the value of \"n\" is an integer"),
                    header: #"{"__metadata__":{"n":3}}"#, dataBytes: 0)
        let malformed = [
            #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,                        // negative dimension
            #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#,    // element count overflows
            #"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#,                       // fractional dimension
            #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#,                         // end before begin
            #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#,                           // one offset
            #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551616]}}"#,      // beyond 64 bits
            #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#,                                       // no dtype
            #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#,                                     // no shape
            #"{"w":[1,2,3]}"#,                                                                  // not a mapping
        ]
        for header in malformed {
            do {
                _ = try SafeTensorsFile(contents: rawFile(header: header, dataBytes: 4), name: "hostile.safetensors")
                Issue.record("accepted \(header)")
            } catch {
                guard case .invalidEntry(path: "hostile.safetensors", tensor: "w", _) = error else {
                    Issue.record("\(header): expected invalidEntry naming w, got \(error)")
                    continue
                }
                #expect(error.description.contains("hostile.safetensors") && error.description.contains("tensor w"))
            }
        }
        // An element-count overflow in shape x dtype size is caught before any arithmetic wraps.
        expectError(.sizeMismatch(path: "hostile.safetensors", tensor: "w", dtype: .f64, shape: [1 << 61], expectedBytes: .max, actualBytes: 8),
                    header: #"{"w":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}}"#, dataBytes: 8)
    }

    @Test func acceptsEmptyTensorsAndEmptyFiles() throws {
        let empty = try SafeTensorsFile(contents: rawFile(header: "{}", dataBytes: 0), name: "e")
        #expect(empty.names.isEmpty)
        let withEmpty = try SafeTensorsFile(
            contents: rawFile(header: #"{"a":{"dtype":"F16","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}"#,
                              dataBytes: 2), name: "e")
        #expect(try withEmpty.tensor(named: "a").scalars.isEmpty)
        #expect(try withEmpty.tensor(named: "b").count == 1)
    }

    // MARK: - Parameter stores

    static func layout() throws -> ParameterLayout {
        var layout = ParameterLayout()
        try layout.add("vision_model.encoder.layers.0.self_attn.q_proj.weight", shape: [4, 4])
        try layout.add("vision_model.encoder.layers.0.self_attn.q_proj.bias", shape: [4])
        try layout.add("text_model.embeddings.token_embedding.weight", shape: [5, 4])
        try layout.add("logit_scale", shape: [])
        return layout
    }

    static func filledStore(seed: Float = 0) throws -> ParameterStore {
        let store = ParameterStore(layout: try layout())
        for i in 0..<store.count { store.values[i] = sin(Float(i) + seed) * 3 }
        return store
    }

    @Test(arguments: [WeightDType.float32, .float16, .bfloat16])
    func storeSaveAndLoad(dtype: WeightDType) throws {
        let directory = try CheckpointTestScratch.make("store")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Self.filledStore()
        let path = directory + "/model.safetensors"
        try SafeTensors.save(store, to: path, dtype: dtype)
        let file = try SafeTensorsFile(path: path)
        #expect(file.metadata == ["format": "pt"])
        #expect(try file.entry(named: "logit_scale").shape == [])
        let loaded = ParameterStore(layout: try Self.layout())
        try file.load(into: loaded)
        for i in 0..<store.count {
            let value = store.values[i]
            let expected: Float = switch dtype {
            case .float32: value
            case .float16: HalfPrecision.float(fromFloat16: HalfPrecision.float16Bits(from: value))
            case .bfloat16: HalfPrecision.float(fromBFloat16: HalfPrecision.bfloat16Bits(from: value))
            }
            #expect(loaded.values[i] == expected)
        }
    }

    @Test func loadIgnoresPositionIdBuffers() throws {
        let store = try Self.filledStore()
        var writer = SafeTensors.writer(for: store)
        writer.add("text_model.embeddings.position_ids", Tensor(zeros: [1, 77]))
        writer.add("vision_model.embeddings.position_ids", Tensor(zeros: [1, 50]))
        let loaded = ParameterStore(layout: try Self.layout())
        try SafeTensorsFile(contents: try writer.encoded(), name: "m").load(into: loaded)
        #expect(loaded.values.array == store.values.array)
    }

    @Test func loadReportsEveryMismatchAndLeavesTheStoreUntouched() throws {
        var layout = ParameterLayout()
        try layout.add("vision_model.encoder.layers.0.self_attn.q_proj.weight", shape: [4, 4])
        try layout.add("vision_model.encoder.layers.0.self_attn.q_proj.bias", shape: [8])   // wrong shape
        try layout.add("text_model.embeddings.token_embedding.weight", shape: [5, 4])
        try layout.add("logit_scale", shape: [1])                                        // HF stores []
        try layout.add("visual_projection.weight", shape: [2, 4])                        // missing
        let store = ParameterStore(layout: layout)
        for i in 0..<store.count { store.values[i] = 7 }
        var writer = SafeTensors.writer(for: try Self.filledStore())
        writer.add("text_projection.weight", Tensor(zeros: [2, 4]))                     // unexpected
        let file = try SafeTensorsFile(contents: try writer.encoded(), name: "m.safetensors")
        let expected = SafeTensorsError.doesNotMatchModel(
            path: "m.safetensors", missing: ["visual_projection.weight"], unexpected: ["text_projection.weight"],
            wrongShape: [
                ShapeMismatch(name: "vision_model.encoder.layers.0.self_attn.q_proj.bias", expected: [8], found: [4]),
                ShapeMismatch(name: "logit_scale", expected: [1], found: []),
            ])
        #expect(throws: expected) { try file.load(into: store) }
        #expect(store.values.array.allSatisfy { $0 == 7 })
        #expect(expected.description.contains("visual_projection.weight") && expected.description.contains("text_projection.weight"))
    }
}
