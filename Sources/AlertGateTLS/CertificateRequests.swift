import Synchronization

/// How many times servers asked a client context's connections for a certificate (a TLS
/// CertificateRequest). `diagnose` reads it around its one connection to tell "the partner
/// accepted our certificate" from "the partner never asked for one".
///
/// Filled by OpenSSL's certificate callback, which a client runs only when a
/// CertificateRequest arrived (TLS 1.2 and 1.3), during the handshake.
public final class CertificateRequests: Sendable {
    private let received = Atomic<Int>(0)

    public init() {}

    public var count: Int {
        received.load(ordering: .acquiring)
    }

    func note() {
        received.add(1, ordering: .releasing)
    }
}
