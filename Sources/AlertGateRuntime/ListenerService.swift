import AlertGateListeners
import Logging
import ServiceLifecycle

/// The listeners under swift-service-lifecycle, once bound (`ListenerSet.start()`, which
/// `GatewayRunner` calls before the services start so that a busy address stops the start):
/// announces that the gateway runs (only once the services run: a sender that reads the
/// announcement finds the forwarding running too), and on graceful shutdown stops
/// accepting and lets open connections finish what they handed to the spool.
final class ListenerService: Service {
    private let listeners: ListenerSet
    private let onListening: @Sendable ([ListenerSet.Bound]) -> Void

    init(listeners: ListenerSet, onListening: @escaping @Sendable ([ListenerSet.Bound]) -> Void) {
        self.listeners = listeners
        self.onListening = onListening
    }

    func run() async throws {
        onListening(listeners.listening)
        try? await gracefulShutdown()
        await listeners.stop()
    }
}
