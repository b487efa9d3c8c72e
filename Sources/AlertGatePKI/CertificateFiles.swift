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

    public init(certificate: String, key: String? = nil, chain: String? = nil, passphrase: String? = nil, useCRL: Bool = false) {
        self.certificate = certificate
        self.key = key
        self.chain = chain
        self.passphrase = passphrase
        self.useCRL = useCRL
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
