/// Errors of the cluster's security setup: key files, allow-lists and the
/// ZAP handler, with what to do about them.
public enum SecurityError: Error, Equatable, CustomStringConvertible {
    /// A file could not be read or written.
    case fileAccess(path: String, reason: String)
    /// A key file does not hold one 40-character Z85 key.
    case invalidKeyFile(path: String, reason: String)
    /// A secret key file can be read by other users.
    case secretKeyFileNotPrivate(path: String, mode: UInt16)
    /// A line of an allow-list file is not a Z85 public key.
    case invalidAllowList(path: String, line: Int, reason: String)
    /// The output file exists and overwriting was not asked for.
    case fileExists(path: String)
    /// The ZAP handler could not start.
    case authenticatorFailed(String)

    public var description: String {
        switch self {
        case let .fileAccess(path, reason):
            return "cannot access \(path): \(reason)"
        case let .invalidKeyFile(path, reason):
            return "\(path) is not a CURVE key file: \(reason) (generate keys with `conaclip keys generate --out PREFIX`)"
        case let .secretKeyFileNotPrivate(path, mode):
            return "secret key file \(path) has mode \(String(mode, radix: 8)), readable by others: run `chmod 600 \(path)`"
        case let .invalidAllowList(path, line, reason):
            return "\(path):\(line): \(reason) (each line holds one 40-character Z85 public key, optionally followed by a name; # starts a comment)"
        case let .fileExists(path):
            return "\(path) already exists; remove it or pass --force"
        case let .authenticatorFailed(reason):
            return "cannot start the CURVE authenticator: \(reason)"
        }
    }
}
