import Foundation

/// The instruction-set features the running CPU reports, as the kernel lists
/// them in `/proc/cpuinfo` (the `flags` line of the first processor).
public struct CPUFeatures: Sendable, Equatable {
    /// Lower-case feature flags such as `avx2`, `fma`, `avx512f`.
    public let flags: Set<String>
    /// The CPU's marketing name, when known.
    public let modelName: String

    public init(flags: Set<String>, modelName: String = "") {
        self.flags = flags
        self.modelName = modelName
    }

    /// Parses the text of `/proc/cpuinfo`.
    public init(cpuinfo text: String) {
        var flags = Set<String>()
        var model = ""
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if key == "flags" && flags.isEmpty {
                flags = Set(value.split(separator: " ").map { $0.lowercased() })
            } else if key == "model name" && model.isEmpty {
                model = value
            }
            if !flags.isEmpty && !model.isEmpty { break }
        }
        self.init(flags: flags, modelName: model)
    }

    /// Reads the features of this machine; empty when `/proc/cpuinfo` is unreadable.
    public static func current() -> CPUFeatures {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
            return CPUFeatures(flags: [])
        }
        return CPUFeatures(cpuinfo: text)
    }

    /// Number of processors online.
    public static var onlineProcessorCount: Int { ProcessInfo.processInfo.activeProcessorCount }
}
