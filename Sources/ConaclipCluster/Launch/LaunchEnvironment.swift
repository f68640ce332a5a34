/// What `conaclip launch --from-env` runs in this process, decided from the
/// launcher's environment.
public struct LaunchPlan: Sendable, Equatable {
    public enum Role: Sendable, Equatable {
        /// Rank 0: the coordinator, bound to this endpoint.
        case coordinator(bind: String)
        /// Any other rank: a worker connecting to this endpoint.
        case worker(connect: String)
    }

    public var role: Role
    /// This process's rank (or Kubernetes completion index).
    public var rank: Int
    /// Processes in the job (coordinator included), when the launcher says.
    public var worldSize: Int?
    /// `torchrun`, `slurm`, `kubernetes` or `explicit`.
    public var launcher: String
    /// The worker's name in logs.
    public var workerName: String
}

/// Why the environment does not describe a launch.
public struct LaunchEnvironmentError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Reads the conventions launchers already set, so one command line works
/// under each (pure, unit-tested; `conaclip launch --from-env` applies it):
///
/// - `CONACLIP_ROLE=coordinator|worker` decides the role outright.
/// - torchrun: `RANK`, `WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`.
/// - Slurm: `SLURM_PROCID`, `SLURM_NTASKS`, `SLURM_JOB_NODELIST` (the
///   coordinator runs on the first host of the node list, e.g. `node01` of
///   `node[01-03],gpu5`).
/// - Kubernetes Indexed Job: `JOB_COMPLETION_INDEX`; every index is a
///   worker (the coordinator is its own Job behind a Service), and the
///   coordinator's address comes from `CONACLIP_COORDINATOR`.
///
/// Rank 0 runs the coordinator, bound to `tcp://*:PORT`; the other ranks run
/// workers connecting to `tcp://HOST:PORT`. `CONACLIP_COORDINATOR`
/// (`tcp://HOST:PORT`) or `--coordinator` overrides where workers connect.
/// The port is `CONACLIP_PORT` (or `--port`), else `MASTER_PORT + 1`
/// (torchrun's own rendezvous store listens on `MASTER_PORT`), else 29501.
public enum LaunchEnvironment {
    public static let defaultPort = 29501

    public static func plan(environment: [String: String], coordinator override: String? = nil, port portOverride: Int? = nil,
                            hostName: String = "localhost") throws(LaunchEnvironmentError) -> LaunchPlan {
        func integer(_ key: String) throws(LaunchEnvironmentError) -> Int? {
            guard let text = environment[key]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            guard let value = Int(text), value >= 0 else { throw LaunchEnvironmentError("\(key)=\(text) is not a non-negative integer") }
            return value
        }
        var port = portOverride
        if port == nil { port = try integer(ClusterEnvironment.port) }
        if port == nil, let master = try integer("MASTER_PORT") { port = master + 1 }
        let chosenPort = port ?? defaultPort
        guard (1...65535).contains(chosenPort) else { throw LaunchEnvironmentError("port \(chosenPort) is outside 1...65535") }
        let endpointOverride = override ?? environment[ClusterEnvironment.coordinator].flatMap { $0.isEmpty ? nil : $0 }
        if let endpointOverride, !ClusterEndpoint.isWellFormed(endpointOverride) {
            throw LaunchEnvironmentError("coordinator endpoint \(endpointOverride) is not tcp://HOST:PORT")
        }

        // Rank, world size, launcher, and where rank 0 runs.
        var rank: Int, worldSize: Int?, launcher: String, coordinatorHost: String?
        if let index = try integer("RANK"), environment["WORLD_SIZE"] != nil {
            rank = index
            worldSize = try integer("WORLD_SIZE")
            launcher = "torchrun"
            coordinatorHost = environment["MASTER_ADDR"].flatMap { $0.isEmpty ? nil : $0 }
        } else if let index = try integer("SLURM_PROCID") {
            rank = index
            worldSize = try integer("SLURM_NTASKS")
            launcher = "slurm"
            if let list = environment["SLURM_JOB_NODELIST"] ?? environment["SLURM_NODELIST"] {
                coordinatorHost = try firstHost(ofNodeList: list)
            }
        } else if let index = try integer("JOB_COMPLETION_INDEX") {
            rank = index
            worldSize = nil
            launcher = "kubernetes"
            coordinatorHost = nil
        } else if environment[ClusterEnvironment.role] != nil {
            rank = 0
            worldSize = nil
            launcher = "explicit"
            coordinatorHost = nil
        } else {
            throw LaunchEnvironmentError("no launcher environment found: expected torchrun's RANK and WORLD_SIZE, Slurm's SLURM_PROCID, "
                + "Kubernetes' JOB_COMPLETION_INDEX, or \(ClusterEnvironment.role)=coordinator|worker")
        }
        if let worldSize, rank >= worldSize {
            throw LaunchEnvironmentError("rank \(rank) is not below the world size \(worldSize)")
        }

        var isCoordinator = launcher != "kubernetes" && rank == 0
        if let role = environment[ClusterEnvironment.role]?.lowercased(), !role.isEmpty {
            switch role {
            case "coordinator": isCoordinator = true
            case "worker": isCoordinator = false
            default: throw LaunchEnvironmentError("\(ClusterEnvironment.role)=\(role): expected coordinator or worker")
            }
        }
        let name = environment[ClusterEnvironment.workerName].flatMap { $0.isEmpty ? nil : $0 }
            ?? (launcher == "kubernetes" ? "worker-\(rank)" : "rank\(rank)@\(hostName)")
        if isCoordinator {
            return LaunchPlan(role: .coordinator(bind: "tcp://*:\(chosenPort)"), rank: rank, worldSize: worldSize,
                              launcher: launcher, workerName: name)
        }
        let endpoint: String
        if let endpointOverride {
            endpoint = endpointOverride
        } else if let coordinatorHost {
            endpoint = "tcp://\(coordinatorHost.contains(":") ? "[\(coordinatorHost)]" : coordinatorHost):\(chosenPort)"
        } else {
            throw LaunchEnvironmentError(launcher == "kubernetes"
                ? "under Kubernetes the workers need the coordinator's address: set \(ClusterEnvironment.coordinator)=tcp://SERVICE:PORT"
                : "cannot tell where the coordinator runs: set \(ClusterEnvironment.coordinator)=tcp://HOST:PORT")
        }
        return LaunchPlan(role: .worker(connect: endpoint), rank: rank, worldSize: worldSize, launcher: launcher, workerName: name)
    }

    /// The first host of a Slurm node list.
    public static func firstHost(ofNodeList list: String) throws(LaunchEnvironmentError) -> String {
        guard let first = try expandNodeList(list, limit: 1).first else {
            throw LaunchEnvironmentError("the node list \"\(list)\" names no host")
        }
        return first
    }

    /// Expands a Slurm host list such as `node[01-03,07],gpu5` or
    /// `rack[1-2]-n[1-2]` into host names, in order (zero padding kept; at
    /// most `limit` names).
    public static func expandNodeList(_ list: String, limit: Int = 100_000) throws(LaunchEnvironmentError) -> [String] {
        var items: [String] = []
        var depth = 0, current = ""
        for character in list {
            switch character {
            case "[": depth += 1; current.append(character)
            case "]":
                depth -= 1
                guard depth >= 0 else { throw LaunchEnvironmentError("unbalanced ']' in the node list \"\(list)\"") }
                current.append(character)
            case "," where depth == 0:
                items.append(current); current = ""
            default:
                if !character.isWhitespace { current.append(character) }
            }
        }
        guard depth == 0 else { throw LaunchEnvironmentError("unbalanced '[' in the node list \"\(list)\"") }
        items.append(current)
        var hosts: [String] = []
        for item in items where !item.isEmpty {
            for host in try expandItem(item, list: list, limit: limit - hosts.count) {
                hosts.append(host)
                if hosts.count >= limit { return hosts }
            }
        }
        return hosts
    }

    /// One comma-free item: literal text and bracketed range lists, as a cartesian product.
    private static func expandItem(_ item: String, list: String, limit: Int) throws(LaunchEnvironmentError) -> [String] {
        var results = [""]
        var rest = Substring(item)
        while !rest.isEmpty {
            if let open = rest.firstIndex(of: "[") {
                let literal = rest[..<open]
                results = results.map { $0 + literal }
                guard let close = rest[open...].firstIndex(of: "]") else {
                    throw LaunchEnvironmentError("unbalanced '[' in the node list \"\(list)\"")
                }
                let choices = try expandRanges(String(rest[rest.index(after: open)..<close]), list: list)
                var next: [String] = []
                outer: for prefix in results {
                    for choice in choices {
                        next.append(prefix + choice)
                        if next.count >= limit { break outer }
                    }
                }
                results = next
                rest = rest[rest.index(after: close)...]
            } else {
                results = results.map { $0 + rest }
                rest = ""
            }
        }
        return results
    }

    /// `01-03,07` -> ["01", "02", "03", "07"].
    private static func expandRanges(_ text: String, list: String) throws(LaunchEnvironmentError) -> [String] {
        var values: [String] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), bounds.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
                  let low = Int(bounds[0]), let high = Int(bounds[bounds.count - 1]), low <= high, high - low < 100_000 else {
                throw LaunchEnvironmentError("\"[\(text)]\" in the node list \"\(list)\" is not a list of numbers and ranges like 01-03")
            }
            let width = bounds[0].count
            for value in low...high {
                let digits = String(value)
                values.append(String(repeating: "0", count: max(0, width - digits.count)) + digits)
            }
        }
        return values
    }
}
