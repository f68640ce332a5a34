import Foundation
import Testing
import ConaclipModels

/// `conaclip keys generate` and `conaclip keys public`, run as real processes.
@Suite struct KeysCommandTests {
    @Test func generateWritesAValidPrivateKeyPair() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try CLIRunner.run(["keys", "generate", "--out", "coordinator"], in: directory)
        #expect(run.status == 0, "\(run.stderr)")

        let publicPath = directory.appendingPathComponent("coordinator.public").path
        let secretPath = directory.appendingPathComponent("coordinator.secret").path
        let mode = try FileManager.default.attributesOfItem(atPath: secretPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // Each file holds one 40-character Z85 key after its comment line.
        func key(_ path: String) throws -> ZeroMQCurveKey {
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
            #expect(lines.count == 1)
            return try ZeroMQCurveKey(z85: String(lines.first ?? ""))
        }
        let publicKey = try key(publicPath), secretKey = try key(secretPath)
        // The public key is the one derived from the secret key, and the one printed.
        #expect(try ZeroMQCurveKeyPair(secretKey: secretKey).publicKey == publicKey)
        #expect(run.stdout.contains(publicKey.z85))

        let shown = try CLIRunner.run(["keys", "public", "coordinator.secret"], in: directory)
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == publicKey.z85)
    }

    @Test func generateRefusesToReplaceKeysUnlessForced() throws {
        let directory = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try CLIRunner.run(["keys", "generate", "--out", "w"], in: directory).status == 0)
        let before = try String(contentsOfFile: directory.appendingPathComponent("w.secret").path, encoding: .utf8)

        let again = try CLIRunner.run(["keys", "generate", "--out", "w"], in: directory)
        #expect(again.status != 0)
        #expect(again.stderr.contains("already exists"))
        #expect(try String(contentsOfFile: directory.appendingPathComponent("w.secret").path, encoding: .utf8) == before)

        let forced = try CLIRunner.run(["keys", "generate", "--out", "w", "--force"], in: directory)
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try String(contentsOfFile: directory.appendingPathComponent("w.secret").path, encoding: .utf8) != before)
    }
}
