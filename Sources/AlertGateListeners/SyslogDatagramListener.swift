import AlertGateConfig
import NIOCore
import NIOPosix

/// A syslog-udp listener: one UDP socket and its `SyslogDatagramHandler`.
struct SyslogDatagramListener: Listener {
    let settings: SwappableListenerSettings

    /// The largest UDP payload.
    static let maximumDatagram = 65_536

    /// Room for a message of the maximum size, a CR LF after it, and one byte more: a
    /// datagram that fills it is over the limit.
    static func bufferSize(maxMessageSize: Int) -> Int {
        min(maximumDatagram, maxMessageSize + 3)
    }

    func bind(_ address: HostPort, group: any EventLoopGroup, tracker: ConnectionTracker) async throws -> any Channel {
        let environment = settings.current.environment
        let channel = try await DatagramBootstrap(group: group)
            // No 64 KiB buffer for every datagram: a longer one is cut by the kernel and
            // recognised by filling its buffer (`SyslogDatagramHandler`).
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: Self.bufferSize(maxMessageSize: environment.config.maxMessageSize)))
            // A burst of up to this many datagrams becomes one batch for the intake.
            .channelOption(.maxMessagesPerRead, value: 64)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SyslogDatagramHandler(environment: environment))
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
        // Its one channel is also its one "connection": stopping lets its batch finish.
        tracker.track(channel)
        return channel
    }
}
