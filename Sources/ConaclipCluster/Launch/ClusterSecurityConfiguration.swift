import Foundation

/// The environment variables that carry cluster key files (for launchers
/// that pass configuration through the environment: Slurm, Kubernetes,
/// systemd). Flags take precedence over them.
public enum ClusterEnvironment {
    /// This process's CURVE secret key file (coordinator or worker).
    public static let secretKey = "CONACLIP_SECRET_KEY"
    /// The coordinator's secret key file, for a rank-0 process when one job
    /// environment serves both roles (falls back to `CONACLIP_SECRET_KEY`).
    public static let coordinatorSecretKey = "CONACLIP_COORDINATOR_SECRET_KEY"
    /// The coordinator's public key file (workers).
    public static let coordinatorKey = "CONACLIP_COORDINATOR_KEY"
    /// The allow-list of worker public keys (coordinator).
    public static let allowList = "CONACLIP_ALLOW"
    /// `1`: run without CURVE on purpose (a trusted network).
    public static let insecure = "CONACLIP_INSECURE"
    /// The coordinator endpoint, `tcp://HOST:PORT` (workers; required under Kubernetes).
    public static let coordinator = "CONACLIP_COORDINATOR"
    /// The coordinator's TCP port for `launch --from-env`.
    public static let port = "CONACLIP_PORT"
    /// `coordinator` or `worker`: overrides the role the launcher's rank implies.
    public static let role = "CONACLIP_ROLE"
    /// The worker's name in logs.
    public static let workerName = "CONACLIP_WORKER_NAME"
    /// Set by `conaclip launch` on its children: exit (as on SIGTERM) when standard input closes, i.e. when the launcher is gone.
    public static let exitWithParent = "CONACLIP_EXIT_WITH_PARENT"

    /// Whether `CONACLIP_INSECURE` asks for plaintext.
    public static func insecureRequested(_ environment: [String: String]) -> Bool {
        guard let value = environment[insecure]?.lowercased() else { return false }
        return ["1", "true", "yes", "on"].contains(value)
    }
}

/// Decides and loads the coordinator's security from flags, the
/// environment and the bind address: CURVE whenever a secret key is given,
/// required for a non-loopback address unless plaintext is asked for explicitly.
public enum CoordinatorSecurityConfiguration {
    public static func resolve(bind: String, secretKey: String?, allowList: String?, insecure: Bool) throws(ClusterError) -> CoordinatorSecuritySetting {
        if insecure {
            guard secretKey == nil else {
                throw .setup("--insecure and a CURVE secret key (--secret-key or \(ClusterEnvironment.secretKey)) contradict each other; choose one")
            }
            return .plaintext
        }
        guard let secretKey else {
            guard ClusterEndpoint.isLocal(bind) else {
                throw .setup("binding \(bind), a non-loopback address, requires CURVE: pass --secret-key FILE and --allow FILE "
                    + "(make keys with `conaclip keys generate --out PREFIX`; the allow-list holds the workers' public keys), "
                    + "or --insecure on a trusted network")
            }
            return .plaintext
        }
        guard let allowList else {
            throw .setup("CURVE needs an allow-list of worker public keys: pass --allow FILE (or set \(ClusterEnvironment.allowList)); "
                + "one key per line, optionally followed by a name")
        }
        do {
            let pair = try CurveKeyFile.readKeyPair(secretKeyAt: secretKey)
            let list = try CurveAllowList(contentsOfFile: allowList)
            return .curve(keyPair: pair, allowList: list)
        } catch {
            throw .security(error)
        }
    }
}

/// Decides and loads a worker's security: CURVE when the coordinator's
/// public key is given (then the worker's own secret key is required);
/// plaintext only to a loopback coordinator or when asked for explicitly.
public enum WorkerSecurityConfiguration {
    public static func resolve(connect: String, secretKey: String?, coordinatorKey: String?, insecure: Bool) throws(ClusterError) -> WorkerSecurity {
        if insecure {
            guard coordinatorKey == nil else {
                throw .setup("--insecure and --coordinator-key (or \(ClusterEnvironment.coordinatorKey)) contradict each other; choose one")
            }
            return .plaintext
        }
        guard let coordinatorKey else {
            guard ClusterEndpoint.isLocal(connect) else {
                throw .setup("connecting to \(connect), a non-loopback address, requires CURVE: pass --secret-key FILE and "
                    + "--coordinator-key FILE (the coordinator's .public file), or --insecure on a trusted network")
            }
            return .plaintext
        }
        guard let secretKey else {
            throw .setup("--coordinator-key needs this worker's own key: pass --secret-key FILE (or set \(ClusterEnvironment.secretKey)); "
                + "its public key must be on the coordinator's allow-list")
        }
        do {
            let pair = try CurveKeyFile.readKeyPair(secretKeyAt: secretKey)
            let server = try CurveKeyFile.readPublicKey(at: coordinatorKey)
            return .curve(keyPair: pair, serverPublicKey: server)
        } catch {
            throw .security(error)
        }
    }
}
