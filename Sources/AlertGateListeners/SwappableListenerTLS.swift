import NIOConcurrencyHelpers

/// A TLS listener's current `ListenerTLS`, replaced whole when the certificate store is
/// reloaded (SPEC §8): each new connection takes the current one when it is accepted, and
/// connections keep the context they started with.
final class SwappableListenerTLS: Sendable {
    private let box: NIOLockedValueBox<ListenerTLS>

    init(_ tls: ListenerTLS) {
        box = NIOLockedValueBox(tls)
    }

    var current: ListenerTLS {
        box.withLockedValue { $0 }
    }

    func replace(with tls: ListenerTLS) {
        box.withLockedValue { $0 = tls }
    }
}
