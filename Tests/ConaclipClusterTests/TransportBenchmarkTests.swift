import Testing
@testable import ConaclipCluster

/// The transport benchmark completes and measures something, in both modes
/// (a tiny run: this checks it works, not how fast).
@Suite struct TransportBenchmarkTests {
    @Test func loopbackRunsInBothModes() throws {
        let logs = CapturedLogs()
        for curve in [false, true] {
            let speed = try TransportBenchmark.loopback(curve: curve, totalBytes: 4 << 20, frameBytes: 1 << 20,
                                                        framesPerMessage: 2, logger: logs.logger())
            #expect(speed > 0 && speed.isFinite, "curve: \(curve)")
        }
        #expect(!logs.entries.contains { $0.message == "refused peer" })
    }

    @Test func codecAndChecksumMeasurementsAreFinite() throws {
        let (encode, decode) = try TransportBenchmark.codecSpeed(bytes: 1 << 20)
        #expect(encode > 0 && decode > 0)
        #expect(TransportBenchmark.checksumSpeed(bytes: 1 << 20) > 0)
        #expect(TransportBenchmark.copySpeed(bytes: 1 << 20) > 0)
    }
}
