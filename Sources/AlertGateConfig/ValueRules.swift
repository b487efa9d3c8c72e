import AlertGateCore

// Rules on single values that other modules check too (the admin API, the store).

/// The rules of `gateway.admin_token`.
public enum AdminTokenRule {
    /// Shorter tokens are refused: the token is the only thing between the network and a reload.
    public static let minimumLength = 16
}

/// What a `store.certificates[].name` may be: it names the files of a generated
/// certificate (`data_dir/certificates/NAME.crt`), so it must be a plain file name.
public enum CertificateNameRule {
    /// Why `name` cannot be used; nil when it can.
    public static func problem(with name: String) -> String? {
        SafeFileName.isValid(name) ? nil : "\(quoted(name)) is not a valid certificate name: use \(SafeFileName.rule)"
    }
}
