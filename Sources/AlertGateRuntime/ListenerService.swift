import AlertGateListeners
import Logging
import ServiceLifecycle

/// The listeners under swift-service-lifecycle: binds them all, announces that the
/// gateway runs (only now: a sender that reads the announcement can connect), and on
/// graceful shutdown stops accepting and lets open connections finish what they handed
/// to the spool.
final class ListenerService: Service {
    private let listeners: ListenerSet
    private let onListening: @Sendable ([ListenerSet.Bound]) -> Void

    init(listeners: ListenerSet, onListening: @escaping @Sendable ([ListenerSet.Bound]) -> Void) {
        self.listeners = listeners
        self.onListening = onListening
    }

    func run() async throws {
        try await listeners.start()
        onListening(listeners.listening)
        try? await gracefulShutdown()
        await listeners.stop()
    }
}
