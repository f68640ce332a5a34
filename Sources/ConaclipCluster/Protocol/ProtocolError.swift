/// Why a wire message was refused. Every check runs before any field of the
/// message is used, so a bad message is dropped (and logged) rather than
/// acted upon, and never crashes the receiver.
public enum ProtocolError: Error, Equatable, CustomStringConvertible {
    /// A frame, or the list of frames, is shorter than the format requires.
    case truncated(what: String, expected: Int, actual: Int)
    /// A size is above the configured limit.
    case oversized(what: String, limit: Int, actual: Int)
    /// The header does not start with "CNCL": not a conaclip message.
    case badMagic([UInt8])
    /// The peer speaks a protocol version this build does not.
    case unsupportedVersion(received: UInt16, supported: UInt16)
    /// The message type number is not one this version defines.
    case unknownType(UInt16)
    /// The header's own checksum does not match: it was corrupted.
    case headerChecksumMismatch(expected: UInt64, actual: UInt64)
    /// The payload's checksum does not match: it was corrupted.
    case payloadChecksumMismatch(expected: UInt64, actual: UInt64)
    /// The message belongs to another training run.
    case wrongRunID(expected: UInt64, received: UInt64)
    /// A float payload holds NaN or infinity where the type forbids it.
    case nonFiniteValue(type: MessageType, index: Int)
    /// A message of one type was expected, another arrived.
    case unexpectedType(expected: MessageType, received: MessageType)
    /// The message is structurally wrong in another way (details in the text).
    case malformed(String)

    public var description: String {
        switch self {
        case let .truncated(what, expected, actual):
            return "truncated message: \(what) has \(actual), needs \(expected)"
        case let .oversized(what, limit, actual):
            return "message too large: \(what) is \(actual), the limit is \(limit)"
        case let .badMagic(bytes):
            return "not a conaclip message (starts with \(bytes.map { String($0, radix: 16) }.joined(separator: " ")))"
        case let .unsupportedVersion(received, supported):
            return "peer speaks protocol version \(received), this build speaks \(supported): run the same conaclip version everywhere"
        case let .unknownType(type):
            return "unknown message type \(type)"
        case let .headerChecksumMismatch(expected, actual):
            return "header checksum mismatch (carried \(hex(expected)), computed \(hex(actual))): corrupted in transit"
        case let .payloadChecksumMismatch(expected, actual):
            return "payload checksum mismatch (carried \(hex(expected)), computed \(hex(actual))): corrupted in transit"
        case let .wrongRunID(expected, received):
            return "message from run \(hex(received)), this is run \(hex(expected)): a peer of another run is connected"
        case let .nonFiniteValue(type, index):
            return "\(type) payload holds a non-finite value at float \(index)"
        case let .unexpectedType(expected, received):
            return "expected a \(expected) message, received \(received)"
        case let .malformed(text):
            return "malformed message: \(text)"
        }
    }
}

private func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
