import Foundation

/// Everything the section-5 checks found out about one certificate: what was read, and
/// one result per check in report order.
public struct CertificateReport: Sendable {
    public var files: CertificateFiles
    public var certificate: X509Certificate?
    public var key: PrivateKey?
    /// The certificates of the chain file, in file order.
    public var chain: [X509Certificate]
    public var checks: [CheckResult]

    public var isValid: Bool {
        !checks.contains(where: \.isFailure)
    }

    /// The failed checks' problems, in report order.
    public var problems: [CertificateProblem] {
        checks.compactMap(\.problem)
    }

    /// The first failed check: what status and logs show for the certificate.
    public var firstFailure: CheckResult? {
        checks.first(where: \.isFailure)
    }
}
