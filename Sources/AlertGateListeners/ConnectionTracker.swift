import NIOConcurrencyHelpers
import NIOCore

/// The open connections of a listener set, so that stopping can let each finish the batch
/// it has with the intake (`ChannelShouldQuiesceEvent`) instead of cutting it off.
final class ConnectionTracker: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])

    func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLockedValue { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in
            self.channels.withLockedValue { _ = $0.removeValue(forKey: id) }
        }
    }

    var open: [any Channel] {
        channels.withLockedValue { Array($0.values) }
    }
}
