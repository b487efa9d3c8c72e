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
    /// `start`, `reload` and `stop`, one at a time: each awaits binds and closes, and must
    /// not find the listeners halfway through another.
    private let queue = SerialTaskQueue()
    private let context: ListenerSettings.Context
    private let group: any EventLoopGroup
    private let logger: Logger
    private let ingestMemory: IngestBudget
    /// 256 MiB: room for full batches (`IntakeBatcher`, 1 MiB) of a couple of hundred
    /// connections at once.
    public static let defaultIngestMemory = 256 * 1024 * 1024
    /// What `listening` reads without waiting for the actor.
    private let published = NIOLockedValueBox<[Bound]>([])
    /// The last cut of `max_connections` logged (`warnIfCut`).
    private var warnedCut: String?

    /// - Parameters:
    ///   - crlSource: where client certificates' CRLs come from (the runtime's `CRLCache`).
    ///   - intake: where every listener hands its alerts.
    ///   - metrics: the factory of the listeners' counters (`TestMetrics` in tests).
    ///   - ingestMemory: the most the stream connections of all listeners hold together in
    ///     alerts parsed and not yet stored, in bytes (`IngestBudget`).
    public init(
        config: GatewayConfig,
        store: CertificateStore,
        crlSource: any CRLSource,
        intake: any AlertIntake,
        logger: Logger,
        metrics: any MetricsFactory = MetricsSystem.factory,
        budget: ConnectionBudget? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        ingestMemory: Int = ListenerSet.defaultIngestMemory
    ) throws(ListenerError) {
        let ingestMemory = IngestBudget(limit: ingestMemory)
        self.ingestMemory = ingestMemory
        let context = ListenerSettings.Context(intake: intake, logger: logger, metrics: metrics, budget: budget, ingestMemory: ingestMemory)
        entries = try ListenerSettings.all(config: config, store: store, crlSource: crlSource, context: context).map { Entry(listener: Self.listener($0)) }
        self.context = context
        self.group = group
        self.logger = logger
        if let cut = Self.cut(config, budget: budget) {
            warnedCut = cut.caps
            logger.warning("\(cut.message)")
        }
    }

    /// Says once (again only when the cut changes) that the listeners' `max_connections`
    /// add up to more than the process's file descriptors allow, and what each gets.
    private func warnIfCut(_ config: GatewayConfig) {
        guard let cut = Self.cut(config, budget: context.budget) else {
            warnedCut = nil
            return
        }
        guard cut.caps != warnedCut else { return }
        warnedCut = cut.caps
        logger.warning("\(cut.message)")
    }

    /// The caps and the warning when the budget cuts `max_connections`, nil when it fits.
    private static func cut(_ config: GatewayConfig, budget: ConnectionBudget?) -> (caps: String, message: String)? {
        guard let budget else { return nil }
        let streams = config.listeners.filter { $0.protocol != .syslogUDP }.map { (name: $0.name, maxConnections: $0.maxConnections) }
        let (caps, cut) = budget.share(streams)
        guard cut else { return nil }
        let text = streams.map { "\($0.name) \(caps[$0.name] ?? 0)" }.joined(separator: ", ")
        let total = streams.reduce(0) { $0 + $1.maxConnections }
        return (
            text,
            "the listeners' max_connections add up to \(total), more than the \(budget.connections) connections the file descriptor limit leaves them (ulimit -n less \(ConnectionBudget.defaultReserve) kept for partners, the spool and the admin API): max_connections is cut to \(text)"
        )
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
        try await queue.run { await self.startNow() }.get()
    }

    private func startNow() async -> Result<Void, ListenerError> {
        guard !stopped else { return .success(()) }
        started = true
        do {
            try await bind(Array(entries.indices))
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    /// Takes a reloaded config and store (docs/reference.md §8). The new settings are built first, and
    /// if any cannot be, nothing changes. Then listeners the new config removes or moves
    /// to another address or protocol are unbound and the new addresses bound; if a bind
    /// fails, the old sockets are bound again and nothing else changes. Only then do the
    /// listeners that stay take their new settings: new connections use them at once, and
    /// each open connection reviews itself (`ConnectionReview`). Connections of removed or
    /// moved listeners finish their batch and close, within `gracePeriod`.
    ///
    /// A CRL refresh calls this with the same config and `recheck`: open TLS connections
    /// have their client certificates checked again, and a listener whose own certificate
    /// the store no longer accepts keeps serving it (logged) rather than hold back the
    /// others' new CRLs.
    ///
    /// - Parameter committing: called once the new listeners are bound and before the
    ///   ones that stay take their new settings: the runtime swaps its forwarding rules
    ///   there, so that no sender is attributed to an appliance the rules do not know yet.
    public func reload(
        config: GatewayConfig, store: CertificateStore, crlSource: any CRLSource, recheck: Bool = false, gracePeriod: Duration = .seconds(10),
        committing: @escaping @Sendable () -> Void = {}
    ) async throws(ListenerError) {
        try await queue.run {
            await self.reloadNow(config: config, store: store, crlSource: crlSource, recheck: recheck, gracePeriod: gracePeriod, committing: committing)
        }.get()
    }

    private func reloadNow(
        config: GatewayConfig, store: CertificateStore, crlSource: any CRLSource, recheck: Bool, gracePeriod: Duration, committing: @Sendable () -> Void
    ) async -> Result<Void, ListenerError> {
        do {
            try await reloadInTurn(config: config, store: store, crlSource: crlSource, recheck: recheck, gracePeriod: gracePeriod, committing: committing)
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    private func reloadInTurn(
        config: GatewayConfig, store: CertificateStore, crlSource: any CRLSource, recheck: Bool, gracePeriod: Duration, committing: @Sendable () -> Void
    ) async throws(ListenerError) {
        var serving: [String: ListenerTLS]?
        if recheck {
            serving = Dictionary(entries.compactMap { entry in entry.listener.settings.current.tls.map { (entry.name, $0) } }) { first, _ in first }
        }
        let next = try ListenerSettings.all(config: config, store: store, crlSource: crlSource, context: context, serving: serving)
        guard !stopped else { return }
        warnIfCut(config)
        let previous = entries
        var kept: [(Entry, ListenerSettings)] = []
        var reordered: [Entry] = []
        for settings in next {
            if let old = previous.first(where: { $0.name == settings.config.name }), old.listener.settings.current.bindsLike(settings) {
                kept.append((old, settings))
                reordered.append(old)
            } else {
                reordered.append(Entry(listener: Self.listener(settings)))
            }
        }
        let unbound = previous.filter { old in !kept.contains { $0.0.name == old.name } }
        // Unbound first, as a moved listener may want part of its old address back. Where
        // they were is kept for going back if the reload fails: with `:0` in the config,
        // the port the system chose, which senders know.
        var fallback = previous
        var restore: [String: HostPort] = [:]
        for index in previous.indices where unbound.contains(where: { $0.name == previous[index].name }) {
            try? await previous[index].channel?.close()
            if let port = previous[index].bound?.address.port {
                restore[previous[index].name] = HostPort(host: previous[index].listener.settings.current.config.listen.host, port: port)
            }
            fallback[index].channel = nil
            fallback[index].bound = nil
        }
        entries = reordered
        let added = started ? entries.indices.filter { entries[$0].channel == nil } : []
        do {
            try await bind(added)
        } catch {
            entries = fallback
            do {
                try await bind(entries.indices.filter { entries[$0].channel == nil }, at: restore)
            } catch let again {
                logger.error("a listener could not get its address back after a failed reload: \(again)")
                publish()
            }
            throw error
        }
        committing()
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

    /// What the stream connections hold now in alerts parsed and not yet stored, in bytes
    /// (`IngestBudget`).
    public nonisolated var ingestMemoryHeld: Int {
        ingestMemory.used
    }

    /// The address a listener is bound to.
    public nonisolated func address(of listener: String) -> SocketAddress? {
        listening.first { $0.name == listener }?.address
    }

    /// Stops accepting, then lets each open connection finish the batch it has with the
    /// intake and closes it; after `gracePeriod` (a spool that stays full) the rest are
    /// closed anyway (their batches are still offered to the intake until stored).
    public func stop(gracePeriod: Duration = .seconds(10)) async {
        await queue.run { await self.stopNow(gracePeriod: gracePeriod) }
    }

    private func stopNow(gracePeriod: Duration) async {
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
