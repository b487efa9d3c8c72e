/// The certificate checks of docs/reference.md §5, by the code that `--json`, the status API, logs and
/// metrics carry.
public enum CheckCode: String, Sendable, CaseIterable, Codable, Hashable {
    case unreadable
    case passphrase
    case keyMismatch = "key-mismatch"
    case weakKey = "weak-key"
    case signature
    case wildcard
    case expired
    case notYetValid = "not-yet-valid"
    case chain
    case revoked
    case crlUnreachable = "crl-unreachable"
    case duplicateCN = "duplicate-cn"
    case nameMismatch = "name-mismatch"

    /// What the check verifies, for reports ("expired: pass").
    public var title: String {
        switch self {
        case .unreadable: "file is a certificate (and key) in PEM or DER"
        case .passphrase: "key decrypts with the passphrase"
        case .keyMismatch: "private key belongs to the certificate"
        case .weakKey: "RSA key of 2048 bits or more"
        case .signature: "signed with SHA256RSA"
        case .wildcard: "CN is not a wildcard"
        case .expired: "not expired"
        case .notYetValid: "already valid"
        case .chain: "chains to the given CA"
        case .revoked: "not revoked by its CRL"
        case .crlUnreachable: "CRL reachable"
        case .duplicateCN: "CN unique among appliances"
        case .nameMismatch: "matches the expected name"
        }
    }
}
