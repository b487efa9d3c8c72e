import NIOCore

/// One kind of listener, ready to bind: what `ListenerSet` builds from each
/// `listeners:` entry.
protocol Listener: Sendable {
    var environment: ListenerEnvironment { get }
    /// The TLS side of syslog-tls and webhook listeners; nil for the others.
    var swappableTLS: SwappableListenerTLS? { get }

    /// Binds the listen address and returns the listening (UDP: the only) channel. Accepted
    /// connections are handed to `tracker`.
    func bind(group: any EventLoopGroup, tracker: ConnectionTracker) async throws -> any Channel
}

extension SyslogDatagramListener {
    var swappableTLS: SwappableListenerTLS? { nil }
}

extension SyslogStreamListener {
    var swappableTLS: SwappableListenerTLS? { tls }
}

extension WebhookListener {
    var swappableTLS: SwappableListenerTLS? { tls }
}
