import NIOConcurrencyHelpers
import NIOCore

/// The open connections of a listener: admitted against its limits when accepted (docs/reference.md
/// §11: `max_connections`, `max_connections_per_source`), and kept so that stopping can let
/// each finish the batch it has with the intake (`ChannelShouldQuiesceEvent`) instead of
/// cutting it off. Connections are accepted on several event loops, hence the lock.
final class ConnectionTracker: Sendable {
    private struct Open {
        var channels: [ObjectIdentifier: any Channel] = [:]
        /// Open connections by source address.
        var bySource: [String: Int] = [:]
    }

    private let state = NIOLockedValueBox(Open())

    /// Tracks `channel` unless the listener or its source address is at its limit.
    /// - Returns: nil when admitted, otherwise why it was not (the caller closes it).
    func admit(_ channel: any Channel, limits: ConnectionLimits) -> ConnectionRefusal? {
        let id = ObjectIdentifier(channel)
        let source = channel.remoteAddress?.ipAddress ?? "unknown"
        let refusal: ConnectionRefusal? = state.withLockedValue { open in
            if open.channels.count >= limits.maxConnections { return .maxConnections }
            if open.bySource[source, default: 0] >= limits.maxConnectionsPerSource { return .perSource }
            open.channels[id] = channel
            open.bySource[source, default: 0] += 1
            return nil
        }
        guard refusal == nil else { return refusal }
        channel.closeFuture.whenComplete { _ in
            self.state.withLockedValue { open in
                guard open.channels.removeValue(forKey: id) != nil else { return }
                let left = open.bySource[source, default: 1] - 1
                open.bySource[source] = left > 0 ? left : nil
            }
        }
        return nil
    }

    /// Tracks a listener's own channel (syslog-udp's one socket), outside any limit.
    func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        state.withLockedValue { $0.channels[id] = channel }
        channel.closeFuture.whenComplete { _ in
            self.state.withLockedValue { _ = $0.channels.removeValue(forKey: id) }
        }
    }

    var open: [any Channel] {
        state.withLockedValue { Array($0.channels.values) }
    }
}
