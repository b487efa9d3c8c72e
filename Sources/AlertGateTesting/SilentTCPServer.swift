import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP server on 127.0.0.1 that accepts connections and never answers: a CRL server
/// that hangs. It notes when it accepted each connection.
public final class SilentTCPServer: Sendable {
    public let port: Int
    private let channel: any Channel
    private let accepted: NIOLockedValueBox<[ContinuousClock.Instant]>

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        let accepted = NIOLockedValueBox<[ContinuousClock.Instant]>([])
        self.accepted = accepted
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { _ in
                accepted.withLockedValue { $0.append(.now) }
                return group.any().makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        port = channel.localAddress?.port ?? 0
    }

    /// `http://127.0.0.1:PORT/NAME`
    public func url(for name: String) -> String {
        "http://127.0.0.1:\(port)/\(name)"
    }

    public var connectionsAccepted: Int {
        accepted.withLockedValue { $0.count }
    }

    /// When each connection was accepted, in order.
    public var acceptedAt: [ContinuousClock.Instant] {
        accepted.withLockedValue { $0 }
    }

    public func stop() async throws {
        try await channel.close()
    }
}
