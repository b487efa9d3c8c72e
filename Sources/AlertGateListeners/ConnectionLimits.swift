import AlertGateConfig
import NIOCore

/// The limits every connection of one listener runs under (docs/reference.md §11), from its config
/// entry and, for `maxConnections`, the share of file descriptors the process can give it
/// (`ConnectionBudget`).
struct ConnectionLimits: Sendable, Equatable {
    var maxConnections: Int
    var maxConnectionsPerSource: Int
    /// nil: off.
    var handshakeTimeout: TimeAmount?
    var headerTimeout: TimeAmount?
    var idleTimeout: TimeAmount?
    /// webhook: the most a request head (request line and headers) may take; more is
    /// answered 431. NIO's decoder alone accepts 80 KiB.
    var maxHeadBytes = ConnectionLimits.defaultMaxHeadBytes

    static let defaultMaxHeadBytes = 16 * 1024

    init(_ config: ListenerConfig, maxConnections: Int? = nil) {
        self.maxConnections = maxConnections ?? config.maxConnections
        maxConnectionsPerSource = config.maxConnectionsPerSource
        handshakeTimeout = Self.timeout(config.handshakeTimeout)
        headerTimeout = Self.timeout(config.headerTimeout)
        idleTimeout = Self.timeout(config.idleTimeout)
    }

    private static func timeout(_ duration: Duration) -> TimeAmount? {
        duration > .zero ? TimeAmount(duration) : nil
    }
}
