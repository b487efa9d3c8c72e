import AlertGatePKI
import AlertGateTLS
import ArgumentParser
import Foundation

struct CertFetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Save the certificate chain a TLS server presents (\"download the security certificate\").",
        discussion: "Nothing is validated: this is how an operator gets a partner's certificate to inspect or pin. Exits 0 when a chain was saved, 1 otherwise."
    )

    @Argument(help: "The server, as HOST:PORT.")
    var address: String

    @Option(name: .customLong("server-name"), help: "The name to ask for with SNI (default: HOST).")
    var serverName: String?

    @Option(name: .long, help: "Where to save it (default: HOST.pem, or HOST.der with --der).")
    var out: String?

    @Flag(name: .long, help: "Save the server's own certificate in DER instead of the chain in PEM.")
    var der = false

    func validate() throws {
        guard Self.split(address) != nil else {
            throw ValidationError("expected HOST:PORT, found \"\(address)\"")
        }
    }

    static func split(_ address: String) -> (host: String, port: Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65_535).contains(port) else {
            return nil
        }
        let host = address[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return host.isEmpty ? nil : (host, port)
    }

    func run() async throws {
        guard let (host, port) = Self.split(address) else { throw ExitCode(2) }
        let connection: TLSConnector.Connection
        do {
            let context = try TLSContext(TLSConfiguration(role: .client))
            connection = try await TLSConnector(context: context).connect(host: host, port: port, serverName: serverName ?? host, policy: nil)
        } catch {
            printError("cert fetch \(address): \(error)")
            throw ExitCode(1)
        }
        try? await connection.channel.close()
        let chain = connection.peer.chain
        guard let leaf = chain.first else {
            printError("cert fetch \(address): the server presented no certificate")
            throw ExitCode(1)
        }
        let file = out ?? "\(host).\(der ? "der" : "pem")"
        do {
            let bytes = der ? Data(leaf.derEncoded) : Data(chain.map(\.pemEncoded).joined().utf8)
            try bytes.write(to: URL(fileURLWithPath: file), options: .atomic)
        } catch {
            printError("cert fetch: cannot write \(file): \(error.localizedDescription)")
            throw ExitCode(1)
        }
        print("saved \(der ? "the server certificate" : "\(chain.count) certificate\(chain.count == 1 ? "" : "s")") to \(file)")
        for (index, certificate) in chain.enumerated() {
            print("[\(index)] subject:  \(certificate.subject.description)")
            print("    issuer:   \(certificate.issuer.description)")
            print("    SAN:      \(certificate.subjectAlternativeNames.isEmpty ? "(none)" : certificate.subjectAlternativeNames.joined(separator: ", "))")
            print("    validity: \(CertificateReportRenderer.format(certificate.notBefore)) to \(CertificateReportRenderer.format(certificate.notAfter))")
            print("    SHA-256:  \(certificate.sha256Fingerprint)")
        }
    }
}
