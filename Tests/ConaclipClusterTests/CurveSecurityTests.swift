import Foundation
import Testing
@testable import ConaclipCluster

/// CURVE encryption with the ZAP allow-list, over real loopback sockets.
@Suite struct CurveSecurityTests {
    /// A CURVE coordinator whose authenticator allows `allowed`.
    struct Server {
        let context: ZeroMQContext
        let logs = CapturedLogs()
        let serverKeys: ZeroMQCurveKeyPair
        let authenticator: ZAPAuthenticator
        let router: ZeroMQSocket
        let endpoint: String

        init(allowing allowed: [ZeroMQCurveKeyPair]) throws {
            context = try ZeroMQContext()
            serverKeys = try ZeroMQCurveKeyPair.generate()
            var list = CurveAllowList()
            for (index, pair) in allowed.enumerated() { list.allow(pair.publicKey, name: "worker-\(index)") }
            authenticator = try ZAPAuthenticator(context: context, allowList: list, logger: logs.logger())
            (router, endpoint) = try ClusterSockets.coordinator(
                context: context, bind: "tcp://127.0.0.1:*",
                security: .curve(serverKeyPair: serverKeys, authenticator: authenticator))
        }

        func client(_ keys: ZeroMQCurveKeyPair?, id: String) throws -> ZeroMQSocket {
            try ClusterSockets.worker(context: context, connect: endpoint, routingID: Array(id.utf8),
                                      security: keys.map { .curve(keyPair: $0, serverPublicKey: serverKeys.publicKey) } ?? .plaintext)
        }
    }

    @Test func anAllowedClientTalksBothWays() throws {
        let clientKeys = try ZeroMQCurveKeyPair.generate()
        let server = try Server(allowing: [clientKeys])
        let client = try server.client(clientKeys, id: "w0")
        try client.send(frames: [Array("hello".utf8)], timeout: .seconds(5))
        let received = try #require(try server.router.receive(timeout: .seconds(5)))
        #expect(received.map(\.bytes) == [Array("w0".utf8), Array("hello".utf8)])
        try server.router.send(frames: [Array("w0".utf8), Array("welcome".utf8)], timeout: .seconds(5))
        #expect(try client.receive(timeout: .seconds(5))?.map(\.bytes) == [Array("welcome".utf8)])
        #expect(server.authenticator.acceptedCount >= 1)
        #expect(server.authenticator.refusedCount == 0)
        #expect(server.authenticator.stop())
    }

    @Test func fullSizeProtocolMessagesPassTheSizeLimitUnderCurve() throws {
        // CURVE frames are larger on the wire than in memory; the default
        // ZMQ_MAXMSGSIZE must still admit a full 1 MiB float frame.
        let clientKeys = try ZeroMQCurveKeyPair.generate()
        let server = try Server(allowing: [clientKeys])
        let client = try server.client(clientKeys, id: "w0")
        let floats = randomFloats(WireProtocol.floatsPerFrame + 3, seed: 4)
        let message = try floats.withUnsafeBufferPointer {
            try WireCodec.encode(.gradient(ShardGradient(weightsVersion: 1, sampleCount: 2)),
                                 envelope: WireEnvelope(runID: 5, step: 1, microShard: 0), floats: $0)
        }
        try client.send(message, timeout: .seconds(5))
        let received = try #require(try server.router.receive(timeout: .seconds(10)))
        let decoded = try WireDecoder(runID: 5).decode(received.dropFirst())
        #expect(decoded.floats.array == floats)
    }

    @Test func aClientWhoseKeyIsNotAllowedIsRefusedAndLogged() throws {
        let allowed = try ZeroMQCurveKeyPair.generate(), stranger = try ZeroMQCurveKeyPair.generate()
        let server = try Server(allowing: [allowed])
        let client = try server.client(stranger, id: "intruder")
        let monitor = try client.monitor(.handshakeFailed)
        let failure = try #require(try monitor.waitFor(.handshakeFailedAuth, timeout: .seconds(5)))
        #expect(failure.value == 400, "the ZAP handler's status code reaches the client")
        // With IMMEDIATE the refused client has no connection to queue to.
        #expect(throws: ZeroMQError.timedOut(operation: "send", milliseconds: 100)) {
            try client.send(frames: [Array("let me in".utf8)], timeout: .milliseconds(100))
        }
        #expect(try server.router.receive(timeout: .zero) == nil)
        #expect(server.authenticator.refusedCount >= 1)
        #expect(server.authenticator.acceptedCount == 0)
        let refusal = server.logs.entries.first { $0.message == "refused peer" }
        #expect(refusal?.level == .warning)
        #expect(refusal?.metadata["key"] == stranger.publicKey.z85)
        #expect(refusal?.metadata["reason"] == "public key is not on the allow-list")
        #expect(refusal?.metadata["address"] == "127.0.0.1")
        client.close()
        #expect(server.authenticator.stop())
    }

    @Test func aPlaintextClientGetsNothingThrough() throws {
        let server = try Server(allowing: [try ZeroMQCurveKeyPair.generate()])
        let serverMonitor = try server.router.monitor([.handshakeFailed, .disconnected])
        let client = try server.client(nil, id: "plain")
        #expect(try serverMonitor.waitFor([.handshakeFailed, .disconnected], timeout: .seconds(5)) != nil)
        #expect(throws: ZeroMQError.self) {
            try client.send(frames: [Array("plain text".utf8)], timeout: .milliseconds(100))
        }
        #expect(try server.router.receive(timeout: .zero) == nil)
        #expect(server.authenticator.acceptedCount == 0)
    }

    @Test func curveSocketsNeedARunningAuthenticatorInTheirContext() throws {
        let context = try ZeroMQContext(), other = try ZeroMQContext()
        let keys = try ZeroMQCurveKeyPair.generate()
        let foreign = try ZAPAuthenticator(context: other, allowList: CurveAllowList(), logger: CapturedLogs().logger())
        #expect(throws: ClusterTransportError.authenticatorInOtherContext) {
            try ClusterSockets.coordinator(context: context, bind: "tcp://127.0.0.1:*",
                                           security: .curve(serverKeyPair: keys, authenticator: foreign))
        }
        #expect(foreign.stop())
        #expect(throws: ClusterTransportError.authenticatorNotRunning) {
            try ClusterSockets.coordinator(context: other, bind: "tcp://127.0.0.1:*",
                                           security: .curve(serverKeyPair: keys, authenticator: foreign))
        }
    }

    @Test func onlyOneAuthenticatorPerContext() throws {
        let context = try ZeroMQContext()
        let first = try ZAPAuthenticator(context: context, allowList: CurveAllowList(), logger: CapturedLogs().logger())
        #expect(throws: SecurityError.authenticatorFailed("another ZAP handler is already bound in this context")) {
            try ZAPAuthenticator(context: context, allowList: CurveAllowList(), logger: CapturedLogs().logger())
        }
        #expect(first.isRunning)
        #expect(first.stop(timeout: .seconds(2)))
        #expect(!first.isRunning)
        #expect(first.stop(timeout: .seconds(2)), "stopping twice is harmless")
    }

    @Test func replacingTheAllowListAdmitsANewKey() throws {
        let late = try ZeroMQCurveKeyPair.generate()
        let server = try Server(allowing: [])
        var list = CurveAllowList()
        list.allow(late.publicKey, name: "late")
        server.authenticator.update(allowList: list)
        let client = try server.client(late, id: "late")
        try client.send(frames: [[1]], timeout: .seconds(5))
        #expect(try server.router.receive(timeout: .seconds(5))?.map(\.bytes) == [Array("late".utf8), [1]])
    }

    @Test func allowListFilesHaveCommentsNamesAndLineNumberedErrors() throws {
        var keys = try (0..<2).map { _ in try ZeroMQCurveKeyPair.generate().publicKey }
        // '#' is a Z85 character: a key may contain it (not first: that would overflow).
        let hashKey = try ZeroMQCurveKey(z85: "0#" + String(keys[1].z85.dropFirst(2)))
        keys.append(hashKey)
        let text = """
        # conaclip workers
        \(keys[0].z85)   node-a worker 0

        \(keys[1].z85)\t# node-b
        \(hashKey.z85)
        """
        let list = try CurveAllowList(parsing: text)
        #expect(list.count == 3)
        #expect(list.name(of: keys[0]) == "node-a worker 0")
        #expect(list.name(of: keys[1]) == "node-b")
        #expect(list.name(of: hashKey) == hashKey.z85)
        #expect(!list.allows(try ZeroMQCurveKeyPair.generate().publicKey))
        #expect {
            try CurveAllowList(parsing: "# ok\n\(keys[0].z85)\nnot-a-key here\n", path: "allow.txt")
        } throws: { error in
            guard case let .invalidAllowList(path, line, _) = error as? SecurityError else { return false }
            return path == "allow.txt" && line == 3
        }
    }

    @Test func keyFilesAreWrittenPrivatelyAndReadBack() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("conaclip-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let prefix = directory.appendingPathComponent("node").path
        let pair = try ZeroMQCurveKeyPair.generate()
        let paths = try CurveKeyFile.write(pair, prefix: prefix)
        let mode = try FileManager.default.attributesOfItem(atPath: paths.secretPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try CurveKeyFile.readPublicKey(at: paths.publicPath) == pair.publicKey)
        #expect(try CurveKeyFile.readKeyPair(secretKeyAt: paths.secretPath) == pair)
        #expect(throws: SecurityError.fileExists(path: paths.publicPath)) { try CurveKeyFile.write(pair, prefix: prefix) }

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: paths.secretPath)
        #expect(throws: SecurityError.secretKeyFileNotPrivate(path: paths.secretPath, mode: 0o644)) {
            try CurveKeyFile.readKeyPair(secretKeyAt: paths.secretPath)
        }
        // Overwriting restores the private mode.
        try CurveKeyFile.write(try ZeroMQCurveKeyPair.generate(), prefix: prefix, overwrite: true)
        #expect(try FileManager.default.attributesOfItem(atPath: paths.secretPath)[.posixPermissions] as? Int == 0o600)
        #expect(throws: SecurityError.self) { try CurveKeyFile.readPublicKey(at: directory.appendingPathComponent("missing").path) }
    }
}
