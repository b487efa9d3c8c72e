import AlertGateTLS
import NIOCore
import NIOPosix

/// A syslog-tcp or syslog-tls listener: a TCP server whose connections each get a
/// `SyslogStreamHandler` (above a `TLSHandler` for syslog-tls).
struct SyslogStreamListener: Listener {
    let environment: ListenerEnvironment
    /// nil for syslog-tcp.
    let tls: SwappableListenerTLS?

    func bind(group: any EventLoopGroup, tracker: ConnectionTracker) async throws -> any Channel {
        let environment = environment
        let tls = tls
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // A sender that sends and closes at once must not lose what it sent while its
            // certificate was being checked: its FIN becomes an event, not a close.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    tracker.track(channel)
                    let pipeline = channel.pipeline.syncOperations
                    if let tls = tls?.current {
                        let check = tls.peerCheck(remote: channel.remoteAddress, environment: environment)
                        try pipeline.addHandler(TLSHandler(context: tls.context, peerCheck: check))
                    }
                    try pipeline.addHandler(SyslogStreamHandler(environment: environment, usesTLS: tls != nil))
                }
            }
            .bind(host: environment.config.listen.host, port: environment.config.listen.port)
            .get()
    }
}
