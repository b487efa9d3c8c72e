import AlertGateConfig
import AlertGateCore
import AlertGatePKI
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Every listener of a config: built, bound, reloaded and stopped together. The runtime
/// makes one from the config and the certificate store, calls `start()`, `reload(…)` on
/// each hot reload, and `stop()` on shutdown.
///
/// Building checks what can be checked without the network (each TLS listener's
/// certificate, the appliances' `match` networks, `default_appliance`); binding names the
/// listener and the address that failed.
public actor ListenerSet {
    /// A bound listener.
    public struct Bound: Sendable {
        public var name: String
        public var `protocol`: ListenerProtocol
        /// The address it listens on: with port 0 in the config, the port the system chose.
        public var address: SocketAddress
    }

    /// A listener and, once bound, its socket; its connections stay with `tracker` when it
    /// is unbound.
    private struct Entry: Sendable {
        let listener: any Listener
        let tracker = ConnectionTracker()
        var channel: (any Channel)?
        var bound: Bound?

        var name: String { listener.settings.current.config.name }
    }

    private var entries: [Entry]
    /// `start()` was called: from then on a reload binds what it adds (before, `start()`
    /// binds everything).
    private var started = false
    private var stopped = false
    /// Connections of listeners a reload removed or moved, still finishing their batches.
    private var retired: [ConnectionTracker] = []
    private let context: ListenerSettings.Context
    private let group: any EventLoopGroup
    private let logger: Logger
    /// What `listening` reads without waiting for the actor.
    private let published = NIOLockedValueBox<[Bound]>([])

    /// - Parameters:
    ///   - crlSource: where client certificates' CRLs come from (the runtime's `CRLCache`).
    ///   - intake: where every listener hands its alerts.
    ///   - metrics: the factory of the listeners' counters (`TestMetrics` in tests).
    public init(
        config: GatewayConfig,
        store: CertificateStore,
        crlSource: any CRLSource,
        intake: any AlertIntake,
        logger: Logger,
        metrics: any MetricsFactory = MetricsSystem.factory,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws(ListenerError) {
        let context = ListenerSettings.Context(intake: intake, logger: logger, metrics: metrics)
        entries = try ListenerSettings.all(config: config, store: store, crlSource: crlSource, context: context).map { Entry(listener: Self.listener($0)) }
        self.context = context
        self.group = group
        self.logger = logger
    }

    private static func listener(_ settings: ListenerSettings) -> any Listener {
        let swappable = SwappableListenerSettings(settings)
        switch settings.config.protocol {
        case .syslogUDP: return SyslogDatagramListener(settings: swappable)
        case .syslogTCP, .syslogTLS: return SyslogStreamListener(settings: swappable)
        case .webhook: return WebhookListener(settings: swappable)
        }
    }

    /// Binds every listener; if one fails, those already bound are closed again.
    public func start() async throws(ListenerError) {
        started = true
        try await bind(Array(entries.indices))
    }

    /// Takes a reloaded config and store (SPEC §8). The new settings are built first, and
    /// if any cannot be, nothing changes. Then listeners the new config removes or moves
    /// to another address or protocol are unbound and the new addresses bound; if a bind
    /// fails, the old sockets are bound again and nothing else changes. Only then do the
    /// listeners that stay take their new settings: new connections use them at once, and
    /// each open connection reviews itself (`ConnectionReview`). Connections of removed or
    /// moved listeners finish their batch and close, within `gracePeriod`.
    ///
    /// A CRL refresh calls this with the same config: open TLS connections then have their
    /// client certificates checked again.
    public func reload(
        config: GatewayConfig, store: CertificateStore, crlSource: any CRLSource, gracePeriod: Duration = .seconds(10)
    ) async throws(ListenerError) {
        let next = try ListenerSettings.all(config: config, store: store, crlSource: crlSource, context: context)
        guard !stopped else { return }
        var previous = entries
        var kept: [(Entry, ListenerSettings)] = []
        var unbound: [Entry] = []
        var reordered: [Entry] = []
        for settings in next {
            if let old = previous.first(where: { $0.name == settings.config.name }), old.listener.settings.current.bindsLike(settings) {
                kept.append((old, settings))
                reordered.append(old)
            } else {
                reordered.append(Entry(listener: Self.listener(settings)))
            }
        }
        for old in previous where !kept.contains(where: { $0.0.name == old.name }) {
            unbound.append(old)
        }
        // Unbound first, as a moved listener may want part of its old address back.
        for old in unbound {
            try? await old.channel?.close()
        }
        // Where they were, to go back to if the reload fails (a port 0 in the config had
        // one the system chose, and senders know that one).
        var restore: [String: HostPort] = [:]
        for index in previous.indices where unbound.contains(where: { $0.name == previous[index].name }) {
            if let bound = previous[index].bound, let port = bound.address.port {
                restore[bound.name] = HostPort(host: previous[index].listener.settings.current.config.listen.host, port: port)
            }
            previous[index].channel = nil
            previous[index].bound = nil
        }
        entries = reordered
        let added = started ? entries.indices.filter { entries[$0].channel == nil } : []
        do {
            try await bind(added)
        } catch {
            entries = previous
            do {
                try await bind(entries.indices.filter { entries[$0].channel == nil }, at: restore)
            } catch let again {
                logger.error("a listener could not get its address back after a failed reload: \(again)")
            }
            throw error
        }
        if stopped {
            // `stop()` ran while this bound: what it bound must not outlive it.
            for index in added { try? await entries[index].channel?.close() }
            return
        }
        for (old, settings) in kept {
            reconfigure(old, with: settings)
        }
        for old in unbound {
            let moved = next.contains { $0.config.name == old.name }
            logger.info(
                "listener \(old.name) \(moved ? "moved" : "removed"): its open connections close after their batches", metadata: ["listener": "\(old.name)"])
            retired.append(old.tracker)
            Task { await Self.drain(old.tracker.open, gracePeriod: gracePeriod) }
        }
        retired.removeAll { $0.open.isEmpty }
        publish()
    }

    /// Gives a listener that stays its new settings: new connections take them when
    /// accepted, and each open one reviews itself (`ConnectionReview`).
    private func reconfigure(_ entry: Entry, with settings: ListenerSettings) {
        let entryChanged = !entry.listener.settings.current.hasSameEntry(as: settings)
        entry.listener.settings.replace(with: settings)
        let event = ListenerReconfigured(settings: settings, entryChanged: entryChanged)
        for channel in entry.tracker.open {
            channel.pipeline.fireUserInboundEventTriggered(event)
        }
    }

    /// Binds the entries at `indices` to their config's address, or the one `addresses`
    /// gives by name; on a failure closes those it bound and throws.
    private func bind(_ indices: [Int], at addresses: [String: HostPort] = [:]) async throws(ListenerError) {
        var done: [Int] = []
        for index in indices {
            let listener = entries[index].listener
            let config = listener.settings.current.config
            do {
                let channel = try await listener.bind(addresses[config.name] ?? config.listen, group: group, tracker: entries[index].tracker)
                guard let address = channel.localAddress else {
                    try? await channel.close()
                    throw ListenerError.bind(listener: config.name, address: config.listen, reason: "the socket has no local address")
                }
                entries[index].channel = channel
                entries[index].bound = Bound(name: config.name, protocol: config.protocol, address: address)
                done.append(index)
                logger.info("listener \(config.name) (\(config.protocol.rawValue)) listening on \(ListenerEnvironment.describe(address))", metadata: ["listener": "\(config.name)"])
            } catch {
                for index in done {
                    try? await entries[index].channel?.close()
                    entries[index].channel = nil
                    entries[index].bound = nil
                }
                if let error = error as? ListenerError { throw error }
                throw ListenerError.bind(listener: config.name, address: config.listen, reason: "\(error)")
            }
        }
        publish()
    }

    private func publish() {
        let bound = entries.compactMap(\.bound)
        published.withLockedValue { $0 = bound }
    }

    /// The bound listeners, in config order (empty before `start()`).
    public nonisolated var listening: [Bound] {
        published.withLockedValue { $0 }
    }

    /// The address a listener is bound to.
    public nonisolated func address(of listener: String) -> SocketAddress? {
        listening.first { $0.name == listener }?.address
    }

    /// Stops accepting, then lets each open connection finish the batch it has with the
    /// intake and closes it; after `gracePeriod` (a spool that stays full) the rest are
    /// closed anyway (their batches are still offered to the intake until stored).
    public func stop(gracePeriod: Duration = .seconds(10)) async {
        stopped = true
        for entry in entries where entry.listener.settings.current.config.protocol != .syslogUDP {
            try? await entry.channel?.close()
        }
        let open = (entries.map(\.tracker) + retired).flatMap(\.open)
        entries = entries.map { var entry = $0; entry.channel = nil; entry.bound = nil; return entry }
        retired = []
        publish()
        await Self.drain(open, gracePeriod: gracePeriod)
        logger.info("listeners stopped")
    }

    /// Asks each connection to finish its batch and close, and closes those still open
    /// after `gracePeriod`.
    private static func drain(_ open: [any Channel], gracePeriod: Duration) async {
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        // Polled rather than awaited on `closeFuture`: a connection whose batch the full
        // spool keeps refusing never closes by itself, and the wait must end at the deadline.
        let deadline = ContinuousClock.now + gracePeriod
        while open.contains(where: \.isActive), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for channel in open where channel.isActive {
            try? await channel.close()
        }
    }
}
