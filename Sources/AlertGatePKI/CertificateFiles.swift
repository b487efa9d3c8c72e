import Foundation

/// The files of one certificate as an operator names them (config entry or `cert check`).
public struct CertificateFiles: Sendable, Hashable {
    /// PEM or DER.
    public var certificate: String
    /// PEM or DER private key, encrypted or not; nil when only the certificate is checked.
    public var key: String?
    /// Intermediates and root (PEM, several certificates, "Bag Attributes" allowed).
    public var chain: String?
    public var passphrase: String?
    /// Check the certificate against its CRL distribution point.
    public var useCRL: Bool
    /// A self-signed certificate may be its own root: the operator acknowledged that it is
    /// insecure (`acknowledge_insecure: true`, `cert check --acknowledge-insecure`, or a
    /// `self_signed:` entry). Without it a self-signed certificate passes `chain` only when
    /// the chain file or a trust bundle holds that very certificate.
    public var acknowledgeSelfSigned: Bool

    public init(
        certificate: String, key: String? = nil, chain: String? = nil, passphrase: String? = nil, useCRL: Bool = false,
        acknowledgeSelfSigned: Bool = false
    ) {
        self.certificate = certificate
        self.key = key
        self.chain = chain
        self.passphrase = passphrase
        self.useCRL = useCRL
        self.acknowledgeSelfSigned = acknowledgeSelfSigned
    }

    static func read(_ path: String) throws(CertificateFileError) -> [UInt8] {
        do {
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? error.localizedDescription
            throw .unreadableFile("cannot read \(path): \(reason)")
        }
    }
}
