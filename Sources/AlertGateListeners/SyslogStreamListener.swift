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
                    tracker.track(channel)
                    let pipeline = channel.pipeline.syncOperations
                    let current = settings.current
                    if let tls = current.tls {
                        let check = tls.peerCheck(remote: channel.remoteAddress, environment: current.environment)
                        try pipeline.addHandler(TLSHandler(context: tls.context, peerCheck: check))
                    }
                    try pipeline.addHandler(SyslogStreamHandler(settings: current))
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
    }
}
