import CZeroMQ

/// A 32-byte CURVE key (public or secret), written as 40 Z85 characters in
/// files and on command lines.
public struct ZeroMQCurveKey: Sendable, Hashable, CustomStringConvertible {
    /// The 32 raw key bytes.
    public let bytes: [UInt8]

    /// A key from its 32 raw bytes.
    public init(bytes: [UInt8]) throws(ZeroMQError) {
        guard bytes.count == 32 else {
            throw .invalidArgument("a CURVE key has 32 bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// A key from its 40-character Z85 text (surrounding whitespace ignored).
    public init(z85 text: String) throws(ZeroMQError) {
        let trimmed = text.trimmingWhitespace
        guard trimmed.utf8.count == 40 else {
            throw .invalidArgument("a CURVE key is 40 Z85 characters, got \(trimmed.utf8.count)")
        }
        try self.init(bytes: try ZeroMQ.z85Decode(trimmed))
    }

    /// The key as 40 Z85 characters.
    public var z85: String {
        // 32 bytes is a multiple of 4, so encoding cannot fail.
        (try? ZeroMQ.z85Encode(bytes)) ?? ""
    }

    /// The Z85 text (safe to print for public keys only).
    public var description: String { z85 }
}

/// A CURVE key pair: the public key others put on their allow-lists and the
/// secret key that never leaves the machine.
public struct ZeroMQCurveKeyPair: Sendable, Hashable {
    public let publicKey: ZeroMQCurveKey
    public let secretKey: ZeroMQCurveKey

    public init(publicKey: ZeroMQCurveKey, secretKey: ZeroMQCurveKey) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A fresh key pair from libzmq's `zmq_curve_keypair` (libsodium randomness).
    public static func generate() throws(ZeroMQError) -> ZeroMQCurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicText, &secretText) == 0 else {
            throw ZeroMQError.last("zmq_curve_keypair")
        }
        let publicKey = try ZeroMQCurveKey(z85: zeroMQString(publicText))
        let secretKey = try ZeroMQCurveKey(z85: zeroMQString(secretText))
        return ZeroMQCurveKeyPair(publicKey: publicKey, secretKey: secretKey)
    }

    /// The key pair whose secret key is `secretKey` (derives the public key).
    public init(secretKey: ZeroMQCurveKey) throws(ZeroMQError) {
        var publicText = [CChar](repeating: 0, count: 41)
        let secretText = secretKey.z85
        guard zmq_curve_public(&publicText, secretText) == 0 else {
            throw ZeroMQError.last("zmq_curve_public")
        }
        self.init(publicKey: try ZeroMQCurveKey(z85: zeroMQString(publicText)), secretKey: secretKey)
    }
}

extension ZeroMQ {
    /// Encodes bytes as Z85 (ZeroMQ RFC 32); the count must be a multiple of 4.
    public static func z85Encode(_ bytes: [UInt8]) throws(ZeroMQError) -> String {
        guard bytes.count % 4 == 0 else {
            throw .invalidArgument("Z85 encodes a multiple of 4 bytes, got \(bytes.count)")
        }
        var text = [CChar](repeating: 0, count: bytes.count / 4 * 5 + 1)
        guard zmq_z85_encode(&text, bytes, bytes.count) != nil else { throw ZeroMQError.last("zmq_z85_encode") }
        return zeroMQString(text)
    }

    /// Decodes Z85 text (ZeroMQ RFC 32); the length must be a multiple of 5
    /// and every character from the Z85 alphabet.
    public static func z85Decode(_ text: String) throws(ZeroMQError) -> [UInt8] {
        let utf8 = Array(text.utf8)
        guard utf8.count % 5 == 0 else {
            throw .invalidArgument("Z85 text has a multiple of 5 characters, got \(utf8.count)")
        }
        // libzmq 4.3.4 validates characters but not every overflow; check the alphabet here.
        guard utf8.allSatisfy({ z85Alphabet.contains($0) }) else {
            throw .invalidArgument("Z85 text contains a character outside the Z85 alphabet")
        }
        var bytes = [UInt8](repeating: 0, count: utf8.count / 5 * 4)
        let cString = utf8.map { CChar(bitPattern: $0) } + [0]
        guard zmq_z85_decode(&bytes, cString) != nil else {
            throw .invalidArgument("not valid Z85 text")
        }
        return bytes
    }

    /// The 85 characters of the Z85 alphabet.
    private static let z85Alphabet = Set(
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
}

extension String {
    /// The string without leading and trailing whitespace and newlines.
    fileprivate var trimmingWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
              let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}
