/// Why self-signed certificates are not recommended: shown wherever an operator asks for
/// one without acknowledging the risk (`cert self-signed`, a `self_signed` store entry).
public enum SelfSignedAdvice {
    public static let warning = """
        Self-signed certificates are not recommended: no CA vouches for them, so every peer must \
        pin this exact certificate, it cannot be revoked through a CRL, and rotating it means \
        updating every peer by hand. Use a certificate signed by your organisation's CA \
        (see docs/certificates.md).
        """
}
