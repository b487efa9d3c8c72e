import AlertGateConfig
import AlertGateTLS
import NIOCore
import NIOPosix

/// A syslog-tcp or syslog-tls listener: a TCP server whose connections each get a
/// `SyslogStreamHandler` (above a `TLSHandler` for syslog-tls).
struct SyslogStreamListener: Listener {
    let settings: SwappableListenerSettings

    func bind(_ address: HostPort, group: any EventLoopGroup, tracker: ConnectionTracker) async throws -> any Channel {
        let settings = settings
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // A sender that sends and closes at once must not lose what it sent while its
            // certificate was being checked: its FIN becomes an event, not a close.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let current = settings.current
                    try Self.admit(channel, to: tracker, environment: current.environment)
                    let pipeline = channel.pipeline.syncOperations
                    if let tls = current.tls {
                        let check = tls.peerCheck(remote: channel.remoteAddress, environment: current.environment)
                        try pipeline.addHandler(TLSHandler(context: tls.context, peerCheck: check))
                    }
                    try pipeline.addHandler(ConnectionGuard(environment: current.environment, style: .stream, usesTLS: current.tls != nil))
                    try pipeline.addHandler(SyslogStreamHandler(settings: current))
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
    }

    /// Tracks an accepted connection, or counts, logs (rate-limited) and throws when the
    /// listener or the source is at its limit: the bootstrap then closes it at once,
    /// before it is registered with an event loop.
    static func admit(_ channel: any Channel, to tracker: ConnectionTracker, environment: ListenerEnvironment) throws {
        if let refusal = tracker.admit(channel, limits: environment.limits) {
            environment.refuse(refusal, peer: ListenerEnvironment.describe(channel.remoteAddress))
            throw ConnectionRefused(reason: refusal)
        }
    }
}

/// A connection closed when accepted (`SyslogStreamListener.admit`).
struct ConnectionRefused: Error {
    let reason: ConnectionRefusal
}
