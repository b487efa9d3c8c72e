import AlertGateConfig
import AlertGateCore
import AlertGateListeners
import AlertGatePKI
import Foundation
import Logging
import Metrics

/// Hot reload (docs/reference.md §8): loads config.yaml and the certificate store aside, checks them
/// fully, and only then swaps them in — the forwarding rules for the next batch, the link
/// pool's senders (each link's next send opens a new connection with the new certificate,
/// trust and policy; the old connection closes once its sends are back), the listeners
/// (added, removed, moved, and their settings and appliances for new connections and, where
/// the change concerns them, open ones), and dispatchers for new links. An invalid new state
/// changes nothing; the errors are logged, kept for status and counted.
///
/// The listeners go first (`ListenerSet.reload`): binding a new listener's address is the
/// one step that can still fail once everything is checked, and then nothing has changed.
///
/// Reloads run one at a time, in the order asked (a SIGHUP, a file change, a POST and a CRL
/// refresh may come together): each one starts from the state the previous one left.
public actor GatewayReloader {
    /// The state in use.
    public private(set) var config: GatewayConfig
    public private(set) var store: CertificateStore
    private var loader: StoreLoader
    /// How the store in use was loaded (its config and CRL cache).
    var currentLoader: StoreLoader { loader }
    /// The outcome of the latest reload; nil before the first.
    public private(set) var lastReload: ReloadReport?
    /// Reloads and rechecks, one at a time.
    let queue = SerialTaskQueue()
    /// Each config a reload put in use, newest kept: the file watcher follows
    /// `store.watch` and the files it names (one consumer, `ReloadService`).
    nonisolated let configChanges: AsyncStream<GatewayConfig>
    private let configChanged: AsyncStream<GatewayConfig>.Continuation

    private let configPath: String
    private let transports: TransportRegistry
    private let pool: LinkPool
    private let intake: SpoolIntake
    private let forwarding: ForwardingService
    private let listeners: ListenerSet
    /// The open partner connections, checked again at each CRL refresh.
    let connections: PartnerConnections
    let logger: Logger
    private let metrics: any MetricsFactory
    /// systemd hears of each reload (`RELOADING=1`, then `READY=1` with its outcome).
    private let notifier: SystemdNotifier?

    public init(
        configPath: String, transports: TransportRegistry, loaded: ConfigValidation.Loaded, pool: LinkPool, intake: SpoolIntake,
        forwarding: ForwardingService, listeners: ListenerSet, connections: PartnerConnections = PartnerConnections(), logger: Logger,
        metrics: any MetricsFactory = MetricsSystem.factory, notifier: SystemdNotifier? = nil
    ) {
        self.connections = connections
        self.configPath = configPath
        self.transports = transports
        self.config = loaded.config
        self.store = loaded.store.store
        self.loader = loaded.loader
        self.pool = pool
        self.intake = intake
        self.forwarding = forwarding
        self.listeners = listeners
        self.logger = logger
        self.metrics = metrics
        self.notifier = notifier
        (configChanges, configChanged) = AsyncStream.makeStream(of: GatewayConfig.self, bufferingPolicy: .bufferingNewest(1))
        // In /metrics from the start, at 0.
        Counter(label: "alertgate_reloads_total", factory: metrics).increment(by: 0)
        Counter(label: "alertgate_reload_failures_total", factory: metrics).increment(by: 0)
    }

    /// How links are built from a state: the plugin, the appliance's certificate, the
    /// partner's trust and name, the appliance's policy.
    public static func makeSender(_ factory: LinkFactory) -> LinkPool.MakeSender {
        { key in
            let (link, plugin) = try factory.link(appliance: key.appliance, partner: key.partner)
            return (plugin.makeSender(for: link), link.partner.retry)
        }
    }

    /// Loads and checks the new state; swaps it in when valid.
    public func reload(reason: String) async -> ReloadReport {
        await queue.run { await self.reloadNow(reason: reason) }
    }

    private func reloadNow(reason: String) async -> ReloadReport {
        logger.info("reloading", metadata: ["reason": "\(reason)"])
        notifier?.reloading()
        let outcome: ReloadReport
        switch await ConfigValidation(path: configPath, transports: transports).run(selfSigned: .generate) {
        case .failure(let errors):
            outcome = ReloadReport(at: Date(), ok: false, errors: errors.rendered(path: configPath))
        case .success(let loaded):
            outcome = await apply(loaded)
        }
        lastReload = outcome
        Counter(label: "alertgate_reloads_total", factory: metrics).increment()
        if outcome.ok {
            logger.info("reloaded: the new config and certificates are in use", metadata: ["reason": "\(reason)"])
        } else {
            Counter(label: "alertgate_reload_failures_total", factory: metrics).increment()
            for error in outcome.errors {
                logger.error("reload refused: \(error)")
            }
            logger.error("reload refused: the previous config and certificates stay in use", metadata: ["reason": "\(reason)"])
        }
        notifier?.ready(status: outcome.ok ? "running; reloaded (\(reason))" : "running on the previous config; reload refused: \(outcome.errors.first ?? "see the log")")
        return outcome
    }

    /// A CRL refresh checked the store again (same config): links and listeners take it,
    /// open listener connections have their client certificates checked again, and so
    /// do open partner connections their partner's chain. Links are reopened only when a
    /// certificate of the store changed (`storeChanged`: an appliance's own certificate
    /// may be the one revoked); otherwise each open partner connection stays unless the
    /// fresh CRLs revoke its partner.
    func storeRechecked(_ rechecked: CertificateStore, storeChanged: Bool) async {
        store = rechecked
        do {
            try await listeners.reload(config: config, store: rechecked, crlSource: loader.crlCache, recheck: true)
        } catch {
            logger.error("listeners keep their previous settings: \(error)")
        }
        let factory = await publish(config: config, store: rechecked, loader: loader, renewLinks: storeChanged)
        let open = connections.count
        let closed = await connections.recheckAll { appliance, partner in factory.peerPolicy(appliance: appliance, partner: partner) }
        logger.info("partner connections checked again", metadata: ["open": "\(open)", "closed": "\(closed)", "generation": "\(loader.crlCache.generation)"])
    }

    private func apply(_ loaded: ConfigValidation.Loaded) async -> ReloadReport {
        let (merged, changes) = loaded.store.store.keepingValidItems(of: store)
        var errors: [String] = []
        let required = loaded.requiredCertificates
        for change in changes {
            switch change {
            case .keptPrevious(let name, let refused), .nowInvalid(let name, let refused):
                logger.error(
                    "certificate refused; the previous one stays in use: \(refused.problem?.message ?? "")",
                    metadata: Self.metadata(name, refused))
                errors.append("certificate \(name): \(refused.problem?.message ?? refused.code.rawValue)")
            case .replaced(let name):
                logger.info("certificate replaced", metadata: ["certificate": "\(name)"])
            case .restored(let name):
                logger.info("certificate valid again", metadata: ["certificate": "\(name)"])
            }
        }
        for item in merged.items where required.contains(item.name) && !item.isValid {
            let failure = item.firstFailure
            let line = "certificate \(item.name): \(failure?.problem?.message ?? "invalid")"
            if !errors.contains(line) { errors.append(line) }
        }
        errors += loaded.store.diagnostics.filter { !$0.message.hasPrefix("certificate ") }.map { $0.rendered(path: configPath) }
        guard errors.isEmpty else {
            return ReloadReport(at: Date(), ok: false, errors: errors)
        }
        do {
            let (intake, rules) = (intake, ForwardingRules(loaded.config))
            try await listeners.reload(config: loaded.config, store: merged, crlSource: loaded.loader.crlCache) {
                // The new rules before any sender is attributed to a new appliance.
                intake.replaceRules(rules)
            }
        } catch {
            return ReloadReport(at: Date(), ok: false, errors: [error.description])
        }
        config = loaded.config
        store = merged
        loader = loaded.loader
        await publish(config: loaded.config, store: merged, loader: loaded.loader)
        configChanged.yield(loaded.config)
        return ReloadReport(at: Date(), ok: true, errors: [])
    }

    /// Exposes each certificate's expiry, and warns from 30 days before it (again from 7).
    public func reportExpiry(now: Date = Date()) {
        for item in store.items {
            guard let certificate = item.certificate else { continue }
            Gauge(label: "alertgate_certificate_not_after_seconds", dimensions: [("certificate", item.name)], factory: metrics)
                .record(certificate.notAfter.timeIntervalSince1970)
            let days = Int(certificate.notAfter.timeIntervalSince(now) / 86_400)
            if days <= 30, days >= 0 {
                logger.warning(
                    "certificate expires in \(days) days (\(RFC3339.string(from: certificate.notAfter))): rotate it\(days <= 7 ? " now" : "")",
                    metadata: ["certificate": "\(item.name)", "code": "expiring"])
            }
        }
    }

    /// Swaps the new state in for links (reopened when `renewLinks`, else kept open for
    /// new senders only) and forwarding; returns the links' factory.
    @discardableResult
    private func publish(config: GatewayConfig, store: CertificateStore, loader: StoreLoader, renewLinks: Bool = true) async -> LinkFactory {
        reportExpiry()
        let factory = LinkFactory(
            config: config, store: store, registry: transports, crlSource: loader.crlCache, logger: logger, metrics: metrics, connections: connections)
        intake.replaceRules(ForwardingRules(config))
        intake.spool.budget.setApplianceQuota(config.gateway.spool.applianceShare(appliances: config.appliances.count))
        if renewLinks {
            await pool.renew(makeSender: Self.makeSender(factory))
        } else {
            await pool.update(makeSender: Self.makeSender(factory))
        }
        do {
            try await forwarding.serve(config)
        } catch {
            logger.error("cannot open the spool queues of new links: \(error)")
        }
        return factory
    }
}
