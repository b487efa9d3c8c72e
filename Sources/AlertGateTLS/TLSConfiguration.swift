import AlertGatePKI

/// How one side of a TLS connection is set up: a value, checked once and turned into a
/// `TLSContext` (which is then shared by every connection made with it).
public struct TLSConfiguration: Sendable {
    public enum Role: Sendable, Hashable {
        case client
        case server(clientAuthentication: ClientAuthentication)
    }

    public enum ClientAuthentication: String, Sendable, Hashable {
        /// The handshake fails without a client certificate.
        case required
        /// A client certificate is asked for and checked when sent.
        case optional
        /// No client certificate is asked for.
        case none
    }

    public var role: Role
    /// The certificate this side presents (the appliance's, for outbound connections).
    public var certificate: X509Certificate?
    public var privateKey: PrivateKey?
    /// Sent after the certificate: its intermediates (self-signed roots are left out: the
    /// peer must already hold its trust anchor).
    public var chain: [X509Certificate]
    /// ALPN protocol names in preference order; empty sends no ALPN extension.
    public var applicationProtocols: [String]

    public init(role: Role, certificate: X509Certificate? = nil, privateKey: PrivateKey? = nil, chain: [X509Certificate] = [], applicationProtocols: [String] = []) {
        self.role = role
        self.certificate = certificate
        self.privateKey = privateKey
        self.chain = chain
        self.applicationProtocols = applicationProtocols
    }
}
