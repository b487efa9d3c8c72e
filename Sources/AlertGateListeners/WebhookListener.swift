import AlertGateConfig
import AlertGateTLS
import NIOCore
import NIOHTTP1
import NIOPosix

/// A webhook listener: HTTPS (a `TLSHandler` in the server role, then NIO's HTTP/1.1
/// server pipeline) with a `WebhookHandler` per connection. Keep-alive is HTTP/1.1's.
struct WebhookListener: Listener {
    let settings: SwappableListenerSettings

    /// The largest request body: 16 × `max_message_size` (1 MiB at the default 64 KiB), room
    /// for an array of alerts; more is answered `413` and the connection closed.
    static func bodyLimit(maxMessageSize: Int) -> Int {
        16 * maxMessageSize
    }

    func bind(_ address: HostPort, group: any EventLoopGroup, tracker: ConnectionTracker) async throws -> any Channel {
        let settings = settings
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let current = settings.current
                    try SyslogStreamListener.admit(channel, to: tracker, environment: current.environment)
                    let pipeline = channel.pipeline.syncOperations
                    // Webhook listeners always have a TLS side (`ListenerSettings.all`).
                    let tls = current.tls!
                    let check = tls.peerCheck(remote: channel.remoteAddress, environment: current.environment)
                    try pipeline.addHandler(QuiesceOnceHandler())
                    try pipeline.addHandler(TLSHandler(context: tls.context, peerCheck: check))
                    try pipeline.addHandler(ConnectionGuard(environment: current.environment, style: .http, usesTLS: true))
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(WebhookHandler(settings: current))
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
    }
}
