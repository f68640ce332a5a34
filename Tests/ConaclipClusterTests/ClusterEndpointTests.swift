import Foundation
import Testing
@testable import ConaclipCluster

/// Which endpoints count as local, and the security each side then requires.
@Suite struct ClusterEndpointTests {
    @Test func tellsLoopbackFromTheNetwork() {
        for local in ["tcp://127.0.0.1:5555", "tcp://127.1.2.3:*", "tcp://localhost:1", "tcp://[::1]:7", "ipc:///tmp/x", "inproc://a"] {
            #expect(ClusterEndpoint.isLocal(local), "\(local)")
        }
        for remote in ["tcp://*:5555", "tcp://0.0.0.0:5555", "tcp://10.0.0.1:5555", "tcp://node01:5555", "tcp://[fd00::1]:5",
                       "tcp://127.0.0.1.evil:5", "udp://127.0.0.1:5"] {
            #expect(!ClusterEndpoint.isLocal(remote), "\(remote)")
        }
        #expect(ClusterEndpoint.normalizingAnyPort("tcp://127.0.0.1:0") == "tcp://127.0.0.1:*")
        #expect(ClusterEndpoint.normalizingAnyPort("tcp://127.0.0.1:10") == "tcp://127.0.0.1:10")
        #expect(ClusterEndpoint.isWellFormed("tcp://h:1") && ClusterEndpoint.isWellFormed("tcp://h:*"))
        #expect(!ClusterEndpoint.isWellFormed("tcp://h") && !ClusterEndpoint.isWellFormed("h:1") && !ClusterEndpoint.isWellFormed("tcp://h:99999"))
    }

    @Test func curveIsRequiredOffLoopbackUnlessPlaintextIsAskedFor() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("conaclip-endpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try ZeroMQCurveKeyPair.generate(), client = try ZeroMQCurveKeyPair.generate()
        let serverFiles = try CurveKeyFile.write(server, prefix: directory.appendingPathComponent("server").path)
        let clientFiles = try CurveKeyFile.write(client, prefix: directory.appendingPathComponent("client").path)
        let allow = directory.appendingPathComponent("allow").path
        try "\(client.publicKey.z85) worker\n".write(toFile: allow, atomically: true, encoding: .utf8)

        if case .plaintext = try CoordinatorSecurityConfiguration.resolve(bind: "tcp://127.0.0.1:0", secretKey: nil, allowList: nil, insecure: false) {} else {
            Issue.record("loopback without keys should be plaintext")
        }
        #expect(throws: ClusterError.self) { try CoordinatorSecurityConfiguration.resolve(bind: "tcp://*:5", secretKey: nil, allowList: nil, insecure: false) }
        #expect(throws: ClusterError.self) {
            try CoordinatorSecurityConfiguration.resolve(bind: "tcp://*:5", secretKey: serverFiles.secretPath, allowList: nil, insecure: false)
        }
        #expect(throws: ClusterError.self) {
            try CoordinatorSecurityConfiguration.resolve(bind: "tcp://*:5", secretKey: serverFiles.secretPath, allowList: allow, insecure: true)
        }
        guard case let .curve(pair, list) = try CoordinatorSecurityConfiguration.resolve(
            bind: "tcp://*:5", secretKey: serverFiles.secretPath, allowList: allow, insecure: false) else {
            Issue.record("a secret key and an allow-list should give CURVE")
            return
        }
        #expect(pair.publicKey == server.publicKey && list.allows(client.publicKey))
        if case .plaintext = try CoordinatorSecurityConfiguration.resolve(bind: "tcp://*:5", secretKey: nil, allowList: nil, insecure: true) {} else {
            Issue.record("--insecure should give plaintext")
        }

        #expect(throws: ClusterError.self) { try WorkerSecurityConfiguration.resolve(connect: "tcp://node1:5", secretKey: nil, coordinatorKey: nil, insecure: false) }
        #expect(throws: ClusterError.self) {
            try WorkerSecurityConfiguration.resolve(connect: "tcp://node1:5", secretKey: nil, coordinatorKey: serverFiles.publicPath, insecure: false)
        }
        guard case let .curve(keyPair, serverKey) = try WorkerSecurityConfiguration.resolve(
            connect: "tcp://node1:5", secretKey: clientFiles.secretPath, coordinatorKey: serverFiles.publicPath, insecure: false) else {
            Issue.record("keys should give CURVE")
            return
        }
        #expect(keyPair.publicKey == client.publicKey && serverKey == server.publicKey)
    }
}
