import Testing
import ConaclipCluster

@Suite struct ZeroMQFactsTests {
    @Test func linkedLibzmqIsAtLeast4_3WithCurve() {
        let parts = ZeroMQ.version.split(separator: ".").compactMap { Int($0) }
        #expect(parts.count == 3)
        #expect(parts.count == 3 && (parts[0] > 4 || (parts[0] == 4 && parts[1] >= 3)))
        #expect(ZeroMQ.hasCurve, "conaclip encrypts cluster traffic with CURVE; libzmq must be built with it")
    }
}
