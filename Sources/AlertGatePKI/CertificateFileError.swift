/// Why a certificate, key or CRL file could not be read.
public enum CertificateFileError: Error, Sendable, Equatable {
    /// The file could not be opened; the text is the system's reason.
    case unreadableFile(String)
    /// Neither PEM nor DER, or PEM that holds no certificate.
    case notACertificate
    /// Not a private key in PEM (PKCS#1, PKCS#8) or DER form.
    case notAKey
    /// The key is encrypted and the passphrase is missing or does not decrypt it.
    case wrongPassphrase(detail: String)
    /// Not a CRL in PEM or DER form.
    case notACRL
}
