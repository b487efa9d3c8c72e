import Logging
import NIOCore

/// One (appliance, partner) pair as a transport sees it: the partner, a connector that
/// opens TLS connections presenting the appliance's certificate and checking the partner
/// per the appliance's policy, and the formatter of the partner's format.
public struct TransportLink: Sendable {
    public var appliance: String
    public var partner: PartnerSettings
    public var destination: Destination
    public var connector: any SecureConnecting
    public var formatter: AlertFormatter
    public var logger: Logger

    public init(appliance: String, partner: PartnerSettings, destination: Destination, connector: any SecureConnecting, formatter: AlertFormatter, logger: Logger) {
        self.appliance = appliance
        self.partner = partner
        self.destination = destination
        self.connector = connector
        self.formatter = formatter
        self.logger = logger
    }
}

/// Opens validated TLS connections for one link. Implemented by the runtime on the TLS
/// module; transports only see this.
public protocol SecureConnecting: Sendable {
    /// TCP, TLS handshake, partner check per policy; then `configure` adds the transport's
    /// handlers above TLS on the channel's event loop. Throws a `TransportError` naming the
    /// failed step.
    func connect(to destination: Destination, configure: @escaping @Sendable (any Channel) throws -> Void) async throws(TransportError) -> any SecureChannel
}

/// An open, validated TLS connection.
public protocol SecureChannel: Sendable {
    var channel: any Channel { get }
    /// The ALPN protocol agreed, if any.
    var applicationProtocol: String? { get }
    /// Ciphertext bytes handed to the socket so far; read on the channel's event loop
    /// right after a flush, it is where the records of everything written so far end.
    func ciphertextBytesWritten() -> Int
    /// Bytes of this connection the peer's TCP stack has acknowledged.
    func acknowledgedBytes() -> EventLoopFuture<UInt64>
    /// Called before each write: when the gateway's CRLs changed since the partner's
    /// chain was last checked, checks it again. Throws (and closes the connection) when
    /// the partner is now revoked and its policy refuses it: nothing more may be written
    /// to it. Cheap when nothing changed.
    func confirmPeer() async throws(TransportError)
}

/// Why a transport could not deliver, in words for logs and status.
public struct TransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The certificate check that failed, when that is why (`name-mismatch`, `revoked`, …).
    public var check: String?
    public var message: String

    public init(check: String? = nil, message: String) {
        self.check = check
        self.message = message
    }

    public var description: String { message }
}
