import NIOConcurrencyHelpers

/// A listener's current `ListenerSettings`, replaced whole by a reload (docs/reference.md §8): each new
/// connection takes the current settings when it is accepted; open connections are told
/// of the new ones (`ListenerReconfigured`) and decide whether they may stay.
final class SwappableListenerSettings: Sendable {
    private let box: NIOLockedValueBox<ListenerSettings>

    init(_ settings: ListenerSettings) {
        box = NIOLockedValueBox(settings)
    }

    var current: ListenerSettings {
        box.withLockedValue { $0 }
    }

    func replace(with settings: ListenerSettings) {
        box.withLockedValue { $0 = settings }
    }
}
