import NIOCore
import NIOPosix

/// A syslog-udp listener: one UDP socket and its `SyslogDatagramHandler`.
struct SyslogDatagramListener: Listener {
    let environment: ListenerEnvironment

    /// The largest UDP payload; a datagram is read whole or not at all.
    static let maximumDatagram = 65_536

    func bind(group: any EventLoopGroup, tracker: ConnectionTracker) async throws -> any Channel {
        let environment = environment
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: Self.maximumDatagram))
            // A burst of up to this many datagrams becomes one batch for the intake.
            .channelOption(.maxMessagesPerRead, value: 64)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SyslogDatagramHandler(environment: environment))
                }
            }
            .bind(host: environment.config.listen.host, port: environment.config.listen.port)
            .get()
        // Its one channel is also its one "connection": stopping lets its batch finish.
        tracker.track(channel)
        return channel
    }
}
