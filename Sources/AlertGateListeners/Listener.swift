import NIOCore

/// One kind of listener, ready to bind: what `ListenerSet` builds from each
/// `listeners:` entry.
protocol Listener: Sendable {
    var environment: ListenerEnvironment { get }

    /// Binds the listen address and returns the listening (UDP: the only) channel. Accepted
    /// connections are handed to `tracker`.
    func bind(group: any EventLoopGroup, tracker: ConnectionTracker) async throws -> any Channel
}
