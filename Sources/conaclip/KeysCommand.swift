import ArgumentParser
import ConaclipCluster
import Foundation

/// `conaclip keys`: CURVE key pairs for encrypted, authenticated cluster traffic.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create and inspect CURVE keys for the coordinator and workers.",
        subcommands: [KeysGenerate.self, KeysPublic.self])
}

/// `conaclip keys generate --out PREFIX`: writes PREFIX.public and PREFIX.secret.
struct KeysGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate a CURVE key pair: PREFIX.public (share it) and PREFIX.secret (mode 0600, keep it private).",
        discussion: """
        Put each worker's PREFIX.public line into the coordinator's allow-list file \
        (one key per line, optionally followed by a name), and give every worker the \
        coordinator's PREFIX.public.
        """)

    @Option(help: "Path prefix of the two key files.")
    var out: String

    @Flag(help: "Replace existing key files.")
    var force = false

    func run() throws {
        let pair = try ZeroMQCurveKeyPair.generate()
        let paths = try CurveKeyFile.write(pair, prefix: out, overwrite: force)
        print("public key: \(pair.publicKey.z85)")
        print("wrote \(paths.publicPath) and \(paths.secretPath) (mode 0600)")
    }
}

/// `conaclip keys public SECRET`: prints the public key of a secret key file.
struct KeysPublic: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "public",
        abstract: "Print the public key that belongs to a secret key file.")

    @Argument(help: "A PREFIX.secret file.")
    var secretKeyFile: String

    func run() throws {
        print(try CurveKeyFile.readKeyPair(secretKeyAt: secretKeyFile, allowShared: true).publicKey.z85)
    }
}
