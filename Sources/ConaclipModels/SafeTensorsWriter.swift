/// Writes Float32 tensors as a safetensors file in F32, F16 or BF16.
///
/// Output is deterministic: the header is compact JSON with `__metadata__`
/// first (keys sorted) and tensors in byte order of their names, padded with
/// spaces to a multiple of 8 bytes; data follows in the same order with no
/// gaps. For single-dtype files this is byte for byte what the Python
/// `safetensors` package writes. Tensors added from a `FloatBuffer` are read
/// in place when the file is written, never copied as a whole.
public struct SafeTensorsWriter: Sendable {
    public let dtype: WeightDType
    public var metadata: [String: String]
    private var inputs: [String: Input] = [:]

    private struct Input: Sendable {
        let shape: [Int]
        let source: Source
    }

    private enum Source: Sendable {
        case array([Float])
        case buffer(FloatBuffer, offset: Int, count: Int)
    }

    public init(dtype: WeightDType = .float32, metadata: [String: String] = [:]) {
        self.dtype = dtype
        self.metadata = metadata
    }

    /// Adds (or replaces) a tensor.
    public mutating func add(_ name: String, _ tensor: Tensor) {
        inputs[name] = Input(shape: tensor.shape, source: .array(tensor.scalars))
    }

    /// Adds (or replaces) a tensor that lives in `buffer` at `offset`; its
    /// element count is the product of `shape`. The buffer is read when the
    /// file is written.
    public mutating func add(_ name: String, shape: [Int], buffer: FloatBuffer, offset: Int) {
        let count = shape.reduce(1, *)
        precondition(offset >= 0 && count >= 0 && offset + count <= buffer.count,
                     "tensor \(name) at \(offset) with \(count) floats is outside a buffer of \(buffer.count)")
        inputs[name] = Input(shape: shape, source: .buffer(buffer, offset: offset, count: count))
    }

    /// Names in the order they are stored: byte order of their UTF-8 spelling.
    public var names: [String] { inputs.keys.sorted(by: Self.nameOrder) }

    static func nameOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// The complete file as bytes.
    public func encoded(name: String = "<memory>") throws(SafeTensorsError) -> [UInt8] {
        var bytes: [UInt8] = []
        let header = try header(path: name)
        bytes.reserveCapacity(header.count + dataSize)
        bytes.append(contentsOf: header)
        emitData { chunk in bytes.append(contentsOf: chunk) }
        return bytes
    }

    /// Writes the file atomically (staging file, fsync, rename, directory fsync).
    public func write(to path: String) throws(SafeTensorsError) {
        let header = try header(path: path)
        do {
            try FileSystem.writeAtomically(path) { (file) throws(FileIOError) in
                try file.write(header)
                var failure: FileIOError?
                emitData { chunk in
                    guard failure == nil else { return }
                    do throws(FileIOError) { try file.write(chunk) } catch { failure = error }
                }
                if let failure { throw failure }
            }
        } catch {
            throw .io(error)
        }
    }

    private var dataSize: Int {
        inputs.values.reduce(0) { $0 + $1.shape.reduce(1, *) * dtype.safeTensorsDType.byteSize }
    }

    /// The 8-byte length plus the padded JSON header.
    private func header(path: String) throws(SafeTensorsError) -> [UInt8] {
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += "\"__metadata__\":{"
            json += metadata.keys.sorted(by: Self.nameOrder).map {
                Self.quoted($0) + ":" + Self.quoted(metadata[$0] ?? "")
            }.joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        let size = dtype.safeTensorsDType.byteSize
        for name in names {
            guard !name.isEmpty, name != "__metadata__", let input = inputs[name] else {
                throw .invalidTensorName(path: path, tensor: name)
            }
            let bytes = input.shape.reduce(1, *) * size
            if !first { json += "," }
            first = false
            json += Self.quoted(name)
            json += ":{\"dtype\":\"\(dtype.rawValue)\",\"shape\":["
            json += input.shape.map(String.init).joined(separator: ",")
            json += "],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        json += "}"
        var utf8 = Array(json.utf8)
        utf8.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - utf8.count % 8) % 8))
        var result: [UInt8] = []
        result.reserveCapacity(8 + utf8.count)
        withUnsafeBytes(of: UInt64(utf8.count).littleEndian) { result.append(contentsOf: $0) }
        result.append(contentsOf: utf8)
        return result
    }

    /// JSON string literal, escaped as serde_json does (the reference writer).
    static func quoted(_ text: String) -> String { JSONStringLiteral.quoted(text) }

    /// Streams the data section in name order, converting through one
    /// reused chunk buffer for F16 and BF16.
    private func emitData(_ sink: (UnsafeRawBufferPointer) -> Void) {
        let chunkElements = 1 << 16
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: chunkElements * 4, alignment: 64)
        defer { scratch.deallocate() }
        for name in names {
            guard let input = inputs[name] else { continue }
            switch input.source {
            case let .array(values):
                values.withUnsafeBufferPointer { emit($0, scratch: scratch, chunk: chunkElements, sink) }
            case let .buffer(buffer, offset, count):
                emit(UnsafeBufferPointer(start: buffer.pointer + offset, count: count), scratch: scratch, chunk: chunkElements, sink)
            }
        }
    }

    private func emit(_ values: UnsafeBufferPointer<Float>, scratch: UnsafeMutableRawPointer, chunk: Int,
                      _ sink: (UnsafeRawBufferPointer) -> Void) {
        guard let base = values.baseAddress, !values.isEmpty else { return }
        #if _endian(little)
        if dtype == .float32 {
            sink(UnsafeRawBufferPointer(start: base, count: values.count * 4))
            return
        }
        #endif
        var start = 0
        while start < values.count {
            let n = min(chunk, values.count - start)
            switch dtype {
            case .float32:
                for i in 0..<n {
                    scratch.storeBytes(of: base[start + i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                }
                sink(UnsafeRawBufferPointer(start: scratch, count: 4 * n))
            case .float16:
                HalfPrecision.narrowToFloat16(base + start, into: scratch, count: n)
                sink(UnsafeRawBufferPointer(start: scratch, count: 2 * n))
            case .bfloat16:
                HalfPrecision.narrowToBFloat16(base + start, into: scratch, count: n)
                sink(UnsafeRawBufferPointer(start: scratch, count: 2 * n))
            }
            start += n
        }
    }
}
