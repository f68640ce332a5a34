import Foundation

/// Chooses OpenBLAS's kernel family from the CPU's own feature flags and makes
/// sure the process runs with it.
///
/// Debian's OpenBLAS picks its kernels once, while the library loads, and does
/// not recognise every CPU: on an unknown one it falls back to "Prescott",
/// several times slower than the kernels the CPU can run. The choice can only
/// be forced through `OPENBLAS_CORETYPE` before the process starts, so
/// `conaclip` re-executes itself with the variable set when the user has not
/// set it.
public enum BLASCoreSelection {
    /// Environment variable that OpenBLAS reads at load time.
    public static let coreTypeVariable = "OPENBLAS_CORETYPE"
    /// Environment variable for OpenBLAS's thread count at load time.
    public static let openBLASThreadsVariable = "OPENBLAS_NUM_THREADS"
    /// conaclip's own setting for BLAS threads per process (default 1).
    public static let threadsVariable = "CONACLIP_BLAS_THREADS"
    /// Set on the re-executed process, so a failing selection can never loop.
    public static let reexecMarker = "CONACLIP_BLAS_REEXEC"

    /// The OpenBLAS core name best suited to CPUs with these features.
    ///
    /// AVX-512 (F, CD, BW, DQ, VL) selects the SkylakeX kernels, AVX2 with FMA
    /// the Haswell ones, AVX the Sandybridge ones, SSE4.2 the Nehalem ones, and
    /// anything older the generic Prescott ones.
    public static func recommendedCore(for features: CPUFeatures) -> String {
        let f = features.flags
        if ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(f.contains) {
            return "SkylakeX"
        }
        if f.contains("avx2") && f.contains("fma") { return "Haswell" }
        if f.contains("avx") { return "Sandybridge" }
        if f.contains("sse4_2") { return "Nehalem" }
        return "Prescott"
    }

    /// BLAS threads per process: `CONACLIP_BLAS_THREADS`, else
    /// `OPENBLAS_NUM_THREADS`, else 1 (processes are the parallelism).
    public static func configuredThreads(environment: [String: String]) -> Int {
        for key in [threadsVariable, openBLASThreadsVariable] {
            if let text = environment[key], let n = Int(text), n > 0 { return n }
        }
        return 1
    }

    /// What to change in the environment before start-up, or `nil` when the
    /// user (or an earlier re-execution) already chose the core.
    public static func environmentChanges(
        environment: [String: String], features: CPUFeatures
    ) -> [String: String]? {
        if environment[coreTypeVariable] != nil || environment[reexecMarker] != nil { return nil }
        var changes = [coreTypeVariable: recommendedCore(for: features), reexecMarker: "1"]
        if environment[openBLASThreadsVariable] == nil {
            changes[openBLASThreadsVariable] = String(configuredThreads(environment: environment))
        }
        return changes
    }

    /// Call first thing in `main`. When the core is not chosen yet, sets the
    /// environment and replaces this process with a fresh copy of itself (the
    /// same executable and arguments), so OpenBLAS loads with the right core.
    /// Otherwise applies the configured BLAS thread count and returns.
    ///
    /// If the re-execution fails, a warning is written to standard error and
    /// the process goes on with whatever core OpenBLAS picked.
    public static func ensureSelected(arguments: [String] = CommandLine.arguments) {
        let environment = ProcessInfo.processInfo.environment
        if let changes = environmentChanges(environment: environment, features: .current()) {
            for (key, value) in changes { setenv(key, value, 1) }
            let executable = "/proc/self/exe"
            var cArgs: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
            cArgs.append(nil)
            execv(executable, cArgs)
            // Only reached when exec failed.
            let error = NativeError.execFailed(path: executable, errno: errno)
            FileHandle.standardError.write(Data(
                "conaclip: warning: \(error); BLAS runs with core \(BLAS.coreName)\n".utf8))
            for pointer in cArgs { free(pointer) }
        }
        BLAS.setThreads(configuredThreads(environment: environment))
    }
}
