/// One `listeners:` entry: where senders send, how they are recognised, and the limits
/// their connections run under (docs/reference.md §11).
public struct ListenerConfig: Sendable, Hashable {
    public static let defaultMaxMessageSize = 64 * 1024
    /// docs/reference.md §11's defaults.
    public static let defaultMaxConnections = 1024
    public static let defaultMaxConnectionsPerSource = 64
    public static let defaultHandshakeTimeout = Duration.seconds(10)
    public static let defaultHeaderTimeout = Duration.seconds(10)
    /// syslog-tcp and syslog-tls: a connection silent this long is closed.
    public static let defaultStreamIdleTimeout = Duration.seconds(600)
    /// webhook: how long a kept-alive connection waits for its next request.
    public static let defaultKeepAliveTimeout = Duration.seconds(60)

    /// The idle timeout of a listener of `kind` that sets none.
    public static func defaultIdleTimeout(for kind: ListenerProtocol) -> Duration {
        kind == .webhook ? defaultKeepAliveTimeout : defaultStreamIdleTimeout
    }

    public var name: String
    public var `protocol`: ListenerProtocol
    public var listen: HostPort
    public var certificate: String?
    public var clientAuth: ClientAuth
    /// The webhook's path (always `/` for other protocols).
    public var path: String
    public var maxMessageSize: Int
    /// The appliance that gets alerts matching no appliance.
    public var defaultAppliance: String?
    /// Open connections at most (TCP listeners); past it new ones are closed at once.
    public var maxConnections: Int
    /// Open connections at most from one source address.
    public var maxConnectionsPerSource: Int
    /// The TLS handshake and the client-certificate check together; `.zero` is off.
    public var handshakeTimeout: Duration
    /// webhook: the whole request head must arrive within it; `.zero` is off.
    public var headerTimeout: Duration
    /// syslog-tcp/tls: silence that closes a connection; webhook: the keep-alive wait for
    /// the next request. `.zero` is off.
    public var idleTimeout: Duration
    /// syslog-udp: datagrams a second from one source address, past which they are
    /// dropped and counted; 0 is no limit.
    public var maxRatePerSource: Int
    /// webhook: when set, a POST needs `Authorization: Bearer TOKEN`.
    public var token: String?
    public var location: SourceLocation

    public init(
        name: String,
        protocol: ListenerProtocol,
        listen: HostPort,
        certificate: String? = nil,
        clientAuth: ClientAuth = .none,
        path: String = "/",
        maxMessageSize: Int = ListenerConfig.defaultMaxMessageSize,
        defaultAppliance: String? = nil,
        maxConnections: Int = ListenerConfig.defaultMaxConnections,
        maxConnectionsPerSource: Int = ListenerConfig.defaultMaxConnectionsPerSource,
        handshakeTimeout: Duration = ListenerConfig.defaultHandshakeTimeout,
        headerTimeout: Duration = ListenerConfig.defaultHeaderTimeout,
        idleTimeout: Duration? = nil,
        maxRatePerSource: Int = 0,
        token: String? = nil,
        location: SourceLocation
    ) {
        self.maxConnections = maxConnections
        self.maxConnectionsPerSource = maxConnectionsPerSource
        self.handshakeTimeout = handshakeTimeout
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout ?? Self.defaultIdleTimeout(for: `protocol`)
        self.maxRatePerSource = maxRatePerSource
        self.token = token
        self.name = name
        self.protocol = `protocol`
        self.listen = listen
        self.certificate = certificate
        self.clientAuth = clientAuth
        self.path = path
        self.maxMessageSize = maxMessageSize
        self.defaultAppliance = defaultAppliance
        self.location = location
    }
}
