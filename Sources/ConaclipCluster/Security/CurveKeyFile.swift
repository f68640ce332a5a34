import Foundation

/// Reads and writes CURVE key files: one 40-character Z85 key per file
/// (lines starting with `#` are comments). `PREFIX.public` is shared with
/// peers; `PREFIX.secret` is created with mode 0600 and must stay private.
public enum CurveKeyFile {
    /// Writes a fresh key pair to `prefix.public` and `prefix.secret`; the
    /// secret file is created with mode 0600 from the start (no moment at
    /// which others could read it). Refuses to replace existing files unless
    /// `overwrite` is set. Returns the two paths.
    @discardableResult
    public static func write(_ pair: ZeroMQCurveKeyPair, prefix: String, overwrite: Bool = false)
    throws(SecurityError) -> (publicPath: String, secretPath: String) {
        let publicPath = prefix + ".public", secretPath = prefix + ".secret"
        if !overwrite {
            for path in [publicPath, secretPath] where FileManager.default.fileExists(atPath: path) {
                throw .fileExists(path: path)
            }
        }
        try writeFile(secretPath, "# conaclip CURVE secret key: keep private\n\(pair.secretKey.z85)\n", mode: 0o600, overwrite: overwrite)
        try writeFile(publicPath, "# conaclip CURVE public key\n\(pair.publicKey.z85)\n", mode: 0o644, overwrite: overwrite)
        return (publicPath, secretPath)
    }

    /// Reads a public key file.
    public static func readPublicKey(at path: String) throws(SecurityError) -> ZeroMQCurveKey {
        try readKey(at: path)
    }

    /// Reads a secret key file and derives its public key. Refuses a file
    /// readable by group or others unless `allowShared` is set.
    public static func readKeyPair(secretKeyAt path: String, allowShared: Bool = false) throws(SecurityError) -> ZeroMQCurveKeyPair {
        if !allowShared {
            let attributes: [FileAttributeKey: Any]
            do { attributes = try FileManager.default.attributesOfItem(atPath: path) } catch {
                throw .fileAccess(path: path, reason: error.localizedDescription)
            }
            let mode = (attributes[.posixPermissions] as? NSNumber)?.uint16Value ?? 0
            guard mode & 0o077 == 0 else { throw .secretKeyFileNotPrivate(path: path, mode: mode) }
        }
        let secret = try readKey(at: path)
        do { return try ZeroMQCurveKeyPair(secretKey: secret) } catch {
            throw .invalidKeyFile(path: path, reason: error.description)
        }
    }

    private static func readKey(at path: String) throws(SecurityError) -> ZeroMQCurveKey {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .fileAccess(path: path, reason: error.localizedDescription)
        }
        // A key never starts with '#' (it would overflow Z85), but check anyway.
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && (!$0.hasPrefix("#") || (try? ZeroMQCurveKey(z85: $0)) != nil) }
        guard lines.count == 1, let line = lines.first else {
            throw .invalidKeyFile(path: path, reason: "expected one key line, found \(lines.count)")
        }
        do { return try ZeroMQCurveKey(z85: line) } catch {
            throw .invalidKeyFile(path: path, reason: error.description)
        }
    }

    private static func writeFile(_ path: String, _ text: String, mode: mode_t, overwrite: Bool) throws(SecurityError) {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL)
        let descriptor = open(path, flags, mode)
        guard descriptor >= 0 else {
            let code = errno
            if code == EEXIST { throw .fileExists(path: path) }
            throw .fileAccess(path: path, reason: String(cString: strerror(code)))
        }
        defer { close(descriptor) }
        // An existing file keeps its old mode through O_TRUNC: set it.
        guard fchmod(descriptor, mode) == 0 else { throw .fileAccess(path: path, reason: String(cString: strerror(errno))) }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress.unsafelyUnwrapped + written, bytes.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                throw .fileAccess(path: path, reason: String(cString: strerror(errno)))
            }
            written += result
        }
        guard fsync(descriptor) == 0 else { throw .fileAccess(path: path, reason: String(cString: strerror(errno))) }
    }
}
