import AlertGatePKI
import ArgumentParser
import Foundation

struct CertCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Run every import check on a certificate and print a report.",
        discussion: "Exits 0 when the certificate would be accepted, 1 when not."
    )

    @Option(name: .long, help: "The certificate (PEM or DER).")
    var cert: String

    @Option(name: .long, help: "Its private key (PEM or DER, encrypted or not).")
    var key: String?

    @Option(name: .long, help: "The chain: intermediates and root CA (PEM).")
    var chain: String?

    @Option(name: .customLong("passphrase-env"), help: ArgumentHelp("The environment variable holding the key's passphrase.", valueName: "VAR"))
    var passphraseEnv: String?

    @Option(name: .customLong("passphrase-file"), help: ArgumentHelp("A file holding the key's passphrase.", valueName: "FILE"))
    var passphraseFile: String?

    @Flag(name: .customLong("use-crl"), help: "Fetch the certificate's CRL and check it is not revoked.")
    var useCRL = false

    @Flag(name: .customLong("acknowledge-insecure"), help: "Accept a self-signed certificate as its own root (as acknowledge_insecure: true in the store does).")
    var acknowledgeInsecure = false

    @Flag(name: .long, help: "Print the report as one JSON object.")
    var json = false

    func validate() throws {
        if passphraseEnv != nil && passphraseFile != nil {
            throw ValidationError("Give --passphrase-env or --passphrase-file, not both.")
        }
    }

    func run() async throws {
        let passphrase = try readPassphrase()
        let files = CertificateFiles(
            certificate: cert, key: key, chain: chain, passphrase: passphrase, useCRL: useCRL, acknowledgeSelfSigned: acknowledgeInsecure)
        let crls = useCRL ? CRLCache(fetcher: HTTPCRLFetcher(), directory: nil) : nil
        let report = await CertificateChecker(crlSource: crls).check(files)
        print(json ? CertificateReportRenderer.json(report) : CertificateReportRenderer.text(report))
        if !report.isValid { throw ExitCode(1) }
    }

    private func readPassphrase() throws -> String? {
        if let variable = passphraseEnv {
            guard let value = ProcessInfo.processInfo.environment[variable] else {
                printError("--passphrase-env: environment variable \(variable) is not set")
                throw ExitCode(1)
            }
            return value
        }
        if let file = passphraseFile {
            do {
                let text = try String(contentsOfFile: file, encoding: .utf8)
                // A file written by `echo` ends in a newline that is not part of the passphrase.
                return String(text.trimmingSuffix { $0 == "\n" || $0 == "\r" })
            } catch {
                printError("--passphrase-file: cannot read \(file): \(error.localizedDescription)")
                throw ExitCode(1)
            }
        }
        return nil
    }
}

extension String {
    func trimmingSuffix(while predicate: (Character) -> Bool) -> Substring {
        var end = endIndex
        while end > startIndex, predicate(self[index(before: end)]) {
            end = index(before: end)
        }
        return self[..<end]
    }
}
