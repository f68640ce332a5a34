/// Appends little-endian fields to a byte buffer (metadata and headers).
public struct WireWriter: Sendable {
    /// The bytes written so far.
    public private(set) var buffer: [UInt8]

    public init(capacity: Int = 64) {
        buffer = []
        buffer.reserveCapacity(capacity)
    }

    public mutating func u8(_ value: UInt8) { buffer.append(value) }
    public mutating func u16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) } }
    public mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) } }
    public mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) } }
    public mutating func f64(_ value: Double) { u64(value.bitPattern) }
    public mutating func bool(_ value: Bool) { u8(value ? 1 : 0) }
    public mutating func bytes(_ value: [UInt8]) { buffer.append(contentsOf: value) }
    /// A string as a u16 byte count and UTF-8 bytes, cut (on a character
    /// boundary) to `maxBytes`, the most a reader accepts.
    public mutating func string(_ value: String, maxBytes: Int = WireProtocol.maxStringBytes) {
        var utf8 = Array(value.utf8)
        let limit = min(maxBytes, Int(UInt16.max))
        if utf8.count > limit {
            var cut = limit
            while cut > 0 && utf8[cut] & 0xC0 == 0x80 { cut -= 1 }
            utf8 = Array(utf8[0..<cut])
        }
        u16(UInt16(utf8.count))
        bytes(utf8)
    }
    /// A byte array as a u32 count and the bytes.
    public mutating func blob(_ value: [UInt8]) {
        u32(UInt32(clamping: value.count))
        bytes(value)
    }
}

/// Reads little-endian fields with bounds checks; every failure is a
/// `ProtocolError` naming what was being read.
public struct WireReader {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0
    /// What is being read (for error messages).
    private let context: String

    public init(_ bytes: UnsafeRawBufferPointer, context: String) {
        self.bytes = bytes
        self.context = context
    }

    /// Bytes not yet read.
    public var remaining: Int { bytes.count - offset }

    private mutating func take(_ count: Int, _ what: String) throws(ProtocolError) -> Int {
        guard count >= 0, count <= remaining else {
            throw .truncated(what: "\(context) \(what)", expected: count, actual: max(0, remaining))
        }
        defer { offset += count }
        return offset
    }

    public mutating func u8() throws(ProtocolError) -> UInt8 { bytes[try take(1, "u8")] }
    public mutating func u16() throws(ProtocolError) -> UInt16 {
        UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(2, "u16"), as: UInt16.self))
    }
    public mutating func u32() throws(ProtocolError) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(4, "u32"), as: UInt32.self))
    }
    public mutating func u64() throws(ProtocolError) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(8, "u64"), as: UInt64.self))
    }
    public mutating func f64() throws(ProtocolError) -> Double { Double(bitPattern: try u64()) }
    public mutating func bool() throws(ProtocolError) -> Bool {
        let value = try u8()
        guard value <= 1 else { throw .malformed("\(context): boolean byte \(value)") }
        return value == 1
    }
    public mutating func bytes(_ count: Int) throws(ProtocolError) -> [UInt8] {
        let start = try take(count, "\(count) bytes")
        return Array(bytes[start..<(start + count)])
    }
    /// A u16-counted UTF-8 string, refused if longer than `maxBytes` or not valid UTF-8.
    public mutating func string(maxBytes: Int = WireProtocol.maxStringBytes) throws(ProtocolError) -> String {
        let count = Int(try u16())
        guard count <= maxBytes else { throw .oversized(what: "\(context) string", limit: maxBytes, actual: count) }
        let raw = try bytes(count)
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw .malformed("\(context): string is not valid UTF-8")
        }
        return text
    }
    /// A u32-counted byte array, refused if longer than `maxBytes`.
    public mutating func blob(maxBytes: Int) throws(ProtocolError) -> [UInt8] {
        let count = Int(try u32())
        guard count <= maxBytes else { throw .oversized(what: "\(context) byte array", limit: maxBytes, actual: count) }
        return try bytes(count)
    }
    /// Refuses trailing bytes: a message must be exactly what its type says.
    public func finish() throws(ProtocolError) {
        guard remaining == 0 else { throw .malformed("\(context): \(remaining) unexpected trailing bytes") }
    }
}
