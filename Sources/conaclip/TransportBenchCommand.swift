import ArgumentParser
import ConaclipCluster
import Foundation
import Logging

/// `conaclip bench transport`: loopback throughput of 1 MiB-frame messages,
/// plaintext against CURVE, and the wire checksum's and codec's speed
/// against a memory copy measured in the same run.
struct TransportBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transport",
        abstract: "Measure loopback ZeroMQ throughput (plaintext vs CURVE) and the wire checksum's speed.")

    @Option(help: "MiB sent per loopback measurement.")
    var mebibytes = 512

    @Option(help: "KiB per frame (the wire protocol uses 1024).")
    var frameKib = 1024

    @Option(help: "Frames per message.")
    var framesPerMessage = 8

    @Option(help: "MiB hashed, copied, encoded and decoded for the checksum and codec measurements.")
    var checksumMebibytes = 64

    @Flag(help: "Print JSON instead of lines.")
    var json = false

    func validate() throws {
        guard mebibytes > 0, frameKib > 0, framesPerMessage > 0, checksumMebibytes > 0 else {
            throw ValidationError("sizes must be positive")
        }
        guard frameKib * framesPerMessage <= mebibytes * 1024 else {
            throw ValidationError("one message (--frame-kib x --frames-per-message) must fit in --mebibytes")
        }
    }

    func run() throws {
        var logger = Logger(label: "conaclip.bench.transport")
        logger.logLevel = .warning
        let report = try TransportBenchmark.run(totalBytes: mebibytes << 20, frameBytes: frameKib << 10,
                                                framesPerMessage: framesPerMessage, checksumBytes: checksumMebibytes << 20,
                                                logger: logger)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        func gbps(_ value: Double) -> String { String(format: "%.2f GB/s", value) }
        print("loopback, \(report.framesPerMessage) x \(report.frameBytes >> 10) KiB frames per message, \(report.totalBytes >> 20) MiB:")
        print("  plaintext: \(gbps(report.plaintextGBps))")
        print("  curve:     \(gbps(report.curveGBps)) (\(String(format: "%.2f", report.curveToPlaintext)) x plaintext)")
        print("checksum and codec over \(checksumMebibytes) MiB (baseline: memcpy \(gbps(report.memcpyGBps))):")
        print("  xxh64:  \(gbps(report.checksumGBps)) (\(String(format: "%.2f", report.checksumGBps / report.memcpyGBps)) x memcpy)")
        print("  encode: \(gbps(report.encodeGBps)) (\(String(format: "%.2f", report.encodeGBps / report.memcpyGBps)) x memcpy)")
        print("  decode: \(gbps(report.decodeGBps)) (\(String(format: "%.2f", report.decodeGBps / report.memcpyGBps)) x memcpy)")
    }
}
