import Foundation

/// A safetensors file opened for reading: the header is parsed and checked
/// up front, tensor data stays in the memory-mapped file until a tensor is
/// converted to Float32 (straight into its destination, with no copy in between).
///
/// The file is treated as hostile: the header length is checked against the
/// file size and `SafeTensors.maximumHeaderSize`, the header must be a JSON
/// object of well-formed entries with known dtypes, and every tensor's byte
/// range must lie inside the data section, hold exactly shape x dtype-size
/// bytes (computed without overflow) and not overlap another tensor; like the
/// reference implementation, holes in the data section are refused too.
public final class SafeTensorsFile: @unchecked Sendable {
    /// The path (or name, for in-memory contents) used in errors.
    public let path: String
    /// The free-form `__metadata__` strings.
    public let metadata: [String: String]
    /// Entries by tensor name.
    public let entries: [String: SafeTensorsEntry]

    private let storage: Storage
    private let dataStart: Int

    private enum Storage {
        case file(FileBytes)
        case memory([UInt8])
    }

    /// Opens and validates the file at `path`.
    public convenience init(path: String) throws(SafeTensorsError) {
        let bytes: FileBytes
        do { bytes = try FileBytes(path: path) } catch { throw .io(error) }
        try self.init(storage: .file(bytes), path: path)
    }

    /// Validates safetensors bytes held in memory; `name` stands in for the path in errors.
    public convenience init(contents: [UInt8], name: String) throws(SafeTensorsError) {
        try self.init(storage: .memory(contents), path: name)
    }

    private init(storage: Storage, path: String) throws(SafeTensorsError) {
        self.storage = storage
        self.path = path
        let parsed: (metadata: [String: String], entries: [String: SafeTensorsEntry], dataStart: Int)
        switch storage {
        case let .file(file):
            parsed = try Self.parse(file.bytes, path: path)
        case let .memory(array):
            var result: Result<(metadata: [String: String], entries: [String: SafeTensorsEntry], dataStart: Int), SafeTensorsError>!
            array.withUnsafeBytes { raw in
                do throws(SafeTensorsError) { result = .success(try Self.parse(raw, path: path)) } catch { result = .failure(error) }
            }
            parsed = try result.get()
        }
        metadata = parsed.metadata
        entries = parsed.entries
        dataStart = parsed.dataStart
    }

    /// Tensor names in byte order of their UTF-8 spelling.
    public var names: [String] { entries.keys.sorted(by: SafeTensorsWriter.nameOrder) }

    /// The entry for `name`.
    public func entry(named name: String) throws(SafeTensorsError) -> SafeTensorsEntry {
        guard let entry = entries[name] else { throw .tensorNotFound(path: path, tensor: name) }
        return entry
    }

    /// One tensor converted to Float32.
    public func tensor(named name: String) throws(SafeTensorsError) -> Tensor {
        let entry = try entry(named: name)
        var scalars = [Float](repeating: 0, count: entry.count)
        try scalars.withUnsafeMutableBufferPointer { (buffer) throws(SafeTensorsError) in
            try read(entry, into: buffer)
        }
        return Tensor(unchecked: entry.shape, scalars: scalars)
    }

    /// Converts one tensor to Float32 into `destination`, which must hold
    /// exactly `entry.count` floats.
    public func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws(SafeTensorsError) {
        try read(entry(named: name), into: destination)
    }

    func read(_ entry: SafeTensorsEntry, into destination: UnsafeMutableBufferPointer<Float>) throws(SafeTensorsError) {
        precondition(destination.count == entry.count, "destination holds \(destination.count) floats, tensor \(entry.name) has \(entry.count)")
        guard entry.dtype.convertsToFloat else {
            throw .unsupportedDType(path: path, tensor: entry.name, dtype: entry.dtype)
        }
        guard let out = destination.baseAddress, entry.count > 0 else { return }
        withBytes { raw in
            guard let base = raw.baseAddress else { return }
            let source = base + dataStart + entry.dataOffsets.lowerBound
            Self.convert(source, dtype: entry.dtype, into: out, count: entry.count)
        }
    }

    private func withBytes(_ body: (UnsafeRawBufferPointer) -> Void) {
        switch storage {
        case let .file(file): body(file.bytes)
        case let .memory(array): array.withUnsafeBytes(body)
        }
    }

    static func convert(_ source: UnsafeRawPointer, dtype: SafeTensorsDType, into out: UnsafeMutablePointer<Float>, count: Int) {
        switch dtype {
        case .f32:
            #if _endian(little)
            UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: count * 4)
            #else
            for i in 0..<count {
                out[i] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
            #endif
        case .f16:
            HalfPrecision.widenFloat16(source, into: out, count: count)
        case .bf16:
            HalfPrecision.widenBFloat16(source, into: out, count: count)
        case .f64:
            for i in 0..<count {
                out[i] = Float(Double(bitPattern: UInt64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
            }
        default:
            preconditionFailure("convert called for \(dtype.rawValue)")
        }
    }

    // MARK: - Header validation

    private static func parse(
        _ bytes: UnsafeRawBufferPointer, path: String
    ) throws(SafeTensorsError) -> (metadata: [String: String], entries: [String: SafeTensorsEntry], dataStart: Int) {
        guard bytes.count >= 8, let base = bytes.baseAddress else { throw .tooShort(path: path, size: bytes.count) }
        let headerSize = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard headerSize <= UInt64(SafeTensors.maximumHeaderSize) else {
            throw .headerTooLarge(path: path, headerSize: headerSize, limit: SafeTensors.maximumHeaderSize)
        }
        guard headerSize <= UInt64(bytes.count - 8) else {
            throw .headerPastEnd(path: path, headerSize: headerSize, fileSize: bytes.count)
        }
        let headerLength = Int(headerSize)
        let dataStart = 8 + headerLength
        let dataSize = bytes.count - dataStart
        let headerBytes = UnsafeRawBufferPointer(start: base + 8, count: headerLength)
        guard headerLength > 0, headerBytes[0] == UInt8(ascii: "{") else {
            throw .headerNotJSON(path: path, reason: "it must start with '{'")
        }
        guard String(bytes: headerBytes, encoding: .utf8) != nil else {
            throw .headerNotJSON(path: path, reason: "it is not valid UTF-8")
        }
        let root: StructuredValue
        switch StructuredValue.parseJSON(Data(headerBytes)) {
        case let .success(value): root = value
        case let .failure(error): throw .headerNotJSON(path: path, reason: error.reason)
        }
        guard let object = root.object else {
            throw .headerNotJSON(path: path, reason: "the top level is \(root.kind)")
        }

        var metadata: [String: String] = [:]
        var entries: [String: SafeTensorsEntry] = [:]
        for name in object.keys.sorted(by: SafeTensorsWriter.nameOrder) {
            guard let value = object[name] else { continue }
            if name == "__metadata__" {
                metadata = try parseMetadata(value, path: path)
                continue
            }
            let entry = try parseEntry(name: name, value: value, path: path)
            guard entry.dataOffsets.upperBound <= dataSize else {
                throw .offsetsOutOfBounds(path: path, tensor: name, begin: entry.dataOffsets.lowerBound,
                                          end: entry.dataOffsets.upperBound, dataSize: dataSize)
            }
            entries[name] = entry
        }
        try checkCoverage(entries.values, dataSize: dataSize, path: path)
        return (metadata, entries, dataStart)
    }

    private static func parseMetadata(_ value: StructuredValue, path: String) throws(SafeTensorsError) -> [String: String] {
        if value == .null { return [:] }
        guard let object = value.object else {
            throw .invalidMetadata(path: path, reason: "it is \(value.kind)")
        }
        var metadata: [String: String] = [:]
        for (key, item) in object {
            guard case let .string(text) = item else {
                throw .invalidMetadata(path: path, reason: "the value of \"\(key)\" is \(item.kind)")
            }
            metadata[key] = text
        }
        return metadata
    }

    private static func parseEntry(name: String, value: StructuredValue, path: String) throws(SafeTensorsError) -> SafeTensorsEntry {
        guard let fields = value.object else {
            throw .invalidEntry(path: path, tensor: name, reason: "its header entry is \(value.kind), not a mapping")
        }
        guard case let .string(dtypeName)? = fields["dtype"] else {
            throw .invalidEntry(path: path, tensor: name, reason: "\"dtype\" is missing or not a string")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw .unknownDType(path: path, tensor: name, dtype: dtypeName)
        }
        guard case let .array(dims)? = fields["shape"] else {
            throw .invalidEntry(path: path, tensor: name, reason: "\"shape\" is missing or not a list")
        }
        var shape: [Int] = []
        var elements = 1
        for dim in dims {
            guard let size = dim.integer, size >= 0 else {
                throw .invalidEntry(path: path, tensor: name, reason: "shape \(dims.map(Self.render)) has a dimension that is not a non-negative integer")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow else {
                throw .invalidEntry(path: path, tensor: name, reason: "shape \(dims.map(Self.render)) has more elements than can be addressed")
            }
            shape.append(size)
            elements = product
        }
        guard case let .array(offsets)? = fields["data_offsets"], offsets.count == 2,
              let begin = offsets[0].integer, let end = offsets[1].integer, begin >= 0, end >= begin else {
            throw .invalidEntry(path: path, tensor: name, reason: "\"data_offsets\" must be two non-negative integers [begin, end] with begin <= end")
        }
        let (expectedBytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, expectedBytes == end - begin else {
            throw .sizeMismatch(path: path, tensor: name, dtype: dtype, shape: shape,
                                expectedBytes: overflow ? Int.max : expectedBytes, actualBytes: end - begin)
        }
        return SafeTensorsEntry(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    private static func render(_ value: StructuredValue) -> String {
        switch value {
        case let .int(v): return String(v)
        case let .double(v): return String(v)
        case let .string(s): return "\"\(s)\""
        default: return value.kind
        }
    }

    /// Tensors must tile the data section exactly: no overlaps, no holes.
    private static func checkCoverage(
        _ entries: some Collection<SafeTensorsEntry>, dataSize: Int, path: String
    ) throws(SafeTensorsError) {
        let sorted = entries.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name)
        }
        var cursor = 0
        var last: SafeTensorsEntry?
        for entry in sorted {
            let range = entry.dataOffsets
            if range.lowerBound < cursor, let previous = last {
                throw .overlappingTensors(path: path, first: previous.name, second: entry.name)
            }
            if range.lowerBound > cursor {
                throw .unindexedBytes(path: path, begin: cursor, end: range.lowerBound)
            }
            if !range.isEmpty || last == nil {
                last = entry
            }
            cursor = max(cursor, range.upperBound)
        }
        if cursor < dataSize {
            throw .unindexedBytes(path: path, begin: cursor, end: dataSize)
        }
    }
}

extension Tensor {
    /// A tensor whose element count the caller has already checked against the shape.
    init(unchecked shape: [Int], scalars: [Float]) {
        self.init(zeros: [])
        self.shape = shape
        self.scalars = scalars
    }
}
