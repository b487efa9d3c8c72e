import AlertGateTLS
import NIOCore
import NIOHTTP1
import NIOPosix

/// A webhook listener: HTTPS (a `TLSHandler` in the server role, then NIO's HTTP/1.1
/// server pipeline) with a `WebhookHandler` per connection. Keep-alive is HTTP/1.1's.
struct WebhookListener: Listener {
    let environment: ListenerEnvironment
    let tls: SwappableListenerTLS

    /// The largest request body: 16 × `max_message_size` (1 MiB at the default 64 KiB), room
    /// for an array of alerts; more is answered `413` and the connection closed.
    static func bodyLimit(maxMessageSize: Int) -> Int {
        16 * maxMessageSize
    }

    func bind(group: any EventLoopGroup, tracker: ConnectionTracker) async throws -> any Channel {
        let environment = environment
        let tls = tls
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    tracker.track(channel)
                    let pipeline = channel.pipeline.syncOperations
                    let tls = tls.current
                    let check = tls.peerCheck(remote: channel.remoteAddress, environment: environment)
                    try pipeline.addHandler(TLSHandler(context: tls.context, peerCheck: check))
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(WebhookHandler(environment: environment))
                }
            }
            .bind(host: environment.config.listen.host, port: environment.config.listen.port)
            .get()
    }
}
