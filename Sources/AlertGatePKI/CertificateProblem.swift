/// A failed certificate check, with what its message needs. The one place that turns a
/// check into the words operators read (docs/reference.md §5: the texts are a contract).
public enum CertificateProblem: Error, Sendable, Hashable {
    case unreadable
    case passphrase
    case keyMismatch
    case weakKey
    case signature
    case wildcard
    case expired
    case notYetValid
    case chain
    case revoked
    case crlUnreachable
    /// Two appliances' certificates share a CN; the names of both store entries.
    case duplicateCN(String, String)
    /// The peer's certificate does not match `expected`; what it holds instead.
    case nameMismatch(expected: String, commonName: String?, subjectAlternativeNames: [String])

    public var code: CheckCode {
        switch self {
        case .unreadable: .unreadable
        case .passphrase: .passphrase
        case .keyMismatch: .keyMismatch
        case .weakKey: .weakKey
        case .signature: .signature
        case .wildcard: .wildcard
        case .expired: .expired
        case .notYetValid: .notYetValid
        case .chain: .chain
        case .revoked: .revoked
        case .crlUnreachable: .crlUnreachable
        case .duplicateCN: .duplicateCN
        case .nameMismatch: .nameMismatch
        }
    }

    public var message: String {
        switch self {
        case .passphrase:
            "Passphrase does not match to the key"
        case .chain:
            "Cannot validate chain of trust. The provided Certificate and Root CA don't match."
        case .expired:
            "This SSL certificate has expired and isn't considered valid."
        case .revoked:
            "This certificate has been revoked by the CRL and can't be trusted for a secure connection"
        case .crlUnreachable:
            "The CRL (Certificate Revocation List) location is not reachable. Verify the URL can be accessed from this appliance"
        case .notYetValid:
            "This SSL certificate is not yet valid."
        case .keyMismatch:
            "The private key does not match the certificate."
        case .weakKey:
            "The public key must be RSA 2048 bits or more."
        case .signature:
            "The certificate must be signed with SHA256RSA."
        case .wildcard:
            "Wildcard certificates are not supported. Each appliance needs a certificate for its own name."
        case .duplicateCN(let first, let second):
            "Each appliance must use a unique CN: \(first) and \(second) share CN."
        case .unreadable:
            "The file is not a certificate (or key) in PEM or DER format."
        case .nameMismatch(let expected, let commonName, let names):
            "The certificate does not match the expected name \(expected): it holds CN=\(commonName ?? "(none)"), SAN=\(names.isEmpty ? "(none)" : names.joined(separator: ", "))."
        }
    }
}
