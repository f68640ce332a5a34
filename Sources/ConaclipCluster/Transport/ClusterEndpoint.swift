/// Facts about a ZeroMQ endpoint string (`tcp://HOST:PORT`, `ipc://PATH`,
/// `inproc://NAME`) that the security defaults depend on.
public enum ClusterEndpoint {
    /// The host part of a `tcp://` endpoint (brackets of an IPv6 literal removed), else nil.
    public static func host(of endpoint: String) -> String? {
        guard endpoint.hasPrefix("tcp://") else { return nil }
        var rest = Substring(endpoint.dropFirst("tcp://".count))
        if let semicolon = rest.firstIndex(of: ";") { rest = rest[rest.index(after: semicolon)...] }  // source;destination
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            return String(rest[rest.index(after: rest.startIndex)..<close])
        }
        guard let colon = rest.lastIndex(of: ":") else { return String(rest) }
        return String(rest[..<colon])
    }

    /// Whether traffic on `endpoint` stays on this machine: a loopback TCP
    /// address (127.0.0.0/8, ::1, localhost), `ipc://` or `inproc://`.
    /// Anything else (a host name, `*`, 0.0.0.0, another address) is not.
    public static func isLocal(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard let host = host(of: endpoint)?.lowercased() else { return false }
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// `endpoint` with a TCP port of 0 written as libzmq's `*` (any free port).
    public static func normalizingAnyPort(_ endpoint: String) -> String {
        guard endpoint.hasPrefix("tcp://"), endpoint.hasSuffix(":0") else { return endpoint }
        return String(endpoint.dropLast()) + "*"
    }

    /// Whether `endpoint` names a TCP port (number or `*`) or an ipc/inproc path.
    public static func isWellFormed(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return endpoint.count > 8 }
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":"), host(of: endpoint) != nil else { return false }
        let port = endpoint[endpoint.index(after: colon)...]
        return port == "*" || (UInt16(port) != nil)
    }
}
