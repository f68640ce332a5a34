import ArgumentParser
import ConaclipCluster
import Foundation

/// `conaclip doctor`: the facts about this machine a user needs to check.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Print the BLAS core and speed, libzmq version, CURVE support and CPU count.")

    @Flag(help: "Print JSON instead of lines.")
    var json = false

    @Option(help: "Matrix size of the SGEMM measurement.")
    var sgemmSize = 1024

    func run() throws {
        let features = CPUFeatures.current()
        let env = ProcessInfo.processInfo.environment
        let report = DoctorReport(
            blasCore: BLAS.coreName,
            recommendedCore: BLASCoreSelection.recommendedCore(for: features),
            coreSource: env[BLASCoreSelection.reexecMarker] != nil ? "chosen from CPU flags" :
                (env[BLASCoreSelection.coreTypeVariable] != nil ? "set by user (OPENBLAS_CORETYPE)" : "OpenBLAS default"),
            blasThreads: BLAS.threads,
            sgemmGFLOPS: SGEMMProbe.measure(size: sgemmSize),
            zmqVersion: ZeroMQ.version,
            curve: ZeroMQ.hasCurve,
            cpus: CPUFeatures.onlineProcessorCount,
            cpuModel: features.modelName)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print("blas-core: \(report.blasCore)")
            print("blas-core-recommended: \(report.recommendedCore) (\(report.coreSource))")
            print("blas-threads: \(report.blasThreads)")
            print("sgemm-gflops-1-thread: \(String(format: "%.1f", report.sgemmGFLOPS))")
            print("zmq-version: \(report.zmqVersion)")
            print("zmq-curve: \(report.curve ? "yes" : "no")")
            print("cpus: \(report.cpus)")
            print("cpu-model: \(report.cpuModel)")
        }
    }
}

struct DoctorReport: Codable {
    var blasCore: String
    var recommendedCore: String
    var coreSource: String
    var blasThreads: Int
    var sgemmGFLOPS: Double
    var zmqVersion: String
    var curve: Bool
    var cpus: Int
    var cpuModel: String
}
