import AlertGateCore
import AlertGatePKI
import ArgumentParser
import Foundation

struct CertSelfSignedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "self-signed",
        abstract: "Write NAME.crt and NAME.key: a self-signed certificate (not recommended).",
        discussion: SelfSignedAdvice.warning
    )

    @Option(name: .long, help: "The certificate's CN (also written as its DNS or IP SAN).")
    var cn: String

    @Option(name: .long, help: "The folder to write NAME.crt and NAME.key into.")
    var out: String

    @Option(name: .long, help: "RSA key size: 2048 or 4096.")
    var bits = 2048

    @Option(name: .long, help: "Days of validity.")
    var days = 365

    @Option(name: .long, help: "Other subject fields, e.g. \"C=US,ST=WA,L=Redmond,O=Contoso,OU=OT\".")
    var subject: String?

    @Flag(name: .customLong("i-understand-this-is-insecure"), help: "Required: self-signed certificates are not recommended.")
    var acknowledged = false

    func validate() throws {
        guard SelfSignedCertificate.allowedKeySizes.contains(bits) else {
            throw ValidationError("--bits must be 2048 or 4096, not \(bits).")
        }
        guard days > 0 else { throw ValidationError("--days must be at least 1.") }
        // The CN names the files written into --out.
        guard SafeFileName.isValid(cn) else {
            throw ValidationError("--cn \"\(cn)\" cannot name the files \(cn).crt and \(cn).key in --out: use a host name (\(SafeFileName.rule)).")
        }
    }

    func run() throws {
        guard acknowledged else {
            printError("Nothing written. \(SelfSignedAdvice.warning)\nTo write one anyway, add --i-understand-this-is-insecure.")
            throw ExitCode(1)
        }
        let attributes: [DistinguishedName.Attribute]
        do {
            attributes = try Self.parseSubject(subject ?? "")
        } catch {
            printError("--subject: \(error)")
            throw ExitCode(1)
        }
        do {
            let pair = try SelfSignedCertificate.generate(commonName: cn, bits: bits, days: days, subject: attributes)
            let written = try SelfSignedCertificate.write(pair, name: cn, to: URL(fileURLWithPath: out))
            print("wrote \(written.certificate.path) and \(written.key.path)")
            print("subject: \(pair.certificate.subject.description)")
            print("valid until: \(CertificateReportRenderer.format(pair.certificate.notAfter))")
            print("SHA-256: \(pair.certificate.sha256Fingerprint)")
        } catch {
            printError("cert self-signed: \(error)")
            throw ExitCode(1)
        }
    }

    struct SubjectError: Error, CustomStringConvertible {
        var description: String
    }

    /// `C=US,O=Contoso,OU=OT` (`/C=US/O=Contoso` as openssl writes it works too).
    static func parseSubject(_ text: String) throws -> [DistinguishedName.Attribute] {
        let separators: Set<Character> = text.hasPrefix("/") ? ["/"] : [","]
        return try text.split(whereSeparator: { separators.contains($0) }).map { part in
            let pieces = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pieces.count == 2, !pieces[0].isEmpty, !pieces[1].isEmpty else {
                throw SubjectError(description: "expected KEY=VALUE, found \"\(part)\"")
            }
            return DistinguishedName.Attribute(key: pieces[0], value: pieces[1])
        }
    }
}
