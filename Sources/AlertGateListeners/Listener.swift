import AlertGateConfig
import NIOCore

/// One kind of listener, ready to bind: what `ListenerSet` builds from each
/// `listeners:` entry.
protocol Listener: Sendable {
    /// What each connection takes when it is accepted; a reload replaces it.
    var settings: SwappableListenerSettings { get }

    /// Binds `address` (the config's, or on a failed reload the one it had) and returns the listening (UDP: the only) channel. Accepted
    /// connections are handed to `tracker`.
    func bind(_ address: HostPort, group: any EventLoopGroup, tracker: ConnectionTracker) async throws -> any Channel
}
