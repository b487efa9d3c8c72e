import AlertGateConfig
import AlertGateCore
import AlertGateListeners
import AlertGatePKI
import AlertGateSpool
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// `alertgate run`: load and check the config and the certificate store, then run the
/// gateway's services until SIGTERM or SIGINT.
public struct GatewayRunner: Sendable {
    public let configPath: String
    public let transports: TransportRegistry

    public init(configPath: String, transports: TransportRegistry) {
        self.configPath = configPath
        self.transports = transports
    }

    /// Runs until stopped; returns the process exit status (docs/reference.md §3: 0 on a clean stop,
    /// 1 if the config or a required certificate is invalid at start).
    public func run() async -> Int32 {
        let loaded: ConfigValidation.Loaded
        switch await ConfigValidation(path: configPath, transports: transports).run(selfSigned: .generate) {
        case .failure(let errors):
            for line in errors.rendered(path: configPath) {
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
            return 1
        case .success(let value):
            loaded = value
        }

        let logger: Logger
        do {
            logger = try Self.logger(for: loaded.config.gateway.log)
        } catch {
            FileHandle.standardError.write(Data("\(configPath): gateway.log.file: cannot open: \(error)\n".utf8))
            return 1
        }

        // Before the first metric is made: every swift-metrics metric lands in /metrics.
        let metrics = MetricsExposition.bootstrap()

        let required = loaded.requiredCertificates
        var refused = false
        for item in loaded.store.store.items {
            guard let failure = item.firstFailure else { continue }
            let isRequired = required.contains(item.name)
            refused = refused || isRequired
            logger.log(
                level: isRequired ? .error : .warning,
                "\(isRequired ? "certificate refused" : "unused certificate refused"): \(failure.problem?.message ?? "")",
                metadata: GatewayReloader.metadata(item.name, failure))
        }
        for diagnostic in loaded.store.diagnostics where !diagnostic.message.hasPrefix("certificate ") {
            logger.error("\(diagnostic.rendered(path: configPath))")
            refused = true
        }
        for warning in loaded.warnings {
            logger.warning("\(warning.rendered(path: configPath))")
        }
        if refused {
            logger.error("not starting: a certificate the gateway needs is invalid (alertgate check-config --config \(configPath) lists every problem)")
            return 1
        }

        let config = loaded.config
        let configPath = configPath
        let dataDirectory = config.gateway.dataDir
        let spool: Spool
        do {
            spool = try Spool(
                directory: dataDirectory.appendingPathComponent("spool"), quota: config.gateway.spool.maxSize,
                applianceQuota: config.gateway.spool.applianceShare(appliances: config.appliances.count))
        } catch {
            logger.error("not starting: \(error)")
            return 1
        }
        SpoolRecoveryLog.report(spool, logger: logger)
        // Trapped before anything announces that the gateway runs: a SIGHUP sent right
        // after never meets the default action (exit).
        let reloadSignals = await UnixSignalsSequence(trapping: .sighup)
        let counters = ForwardingCounters()
        let partnerConnections = PartnerConnections()
        let links = LinkFactory(
            config: config, store: loaded.store.store, registry: transports, crlSource: loaded.loader.crlCache, logger: logger, connections: partnerConnections)
        let pool = LinkPool(makeSender: GatewayReloader.makeSender(links))
        let forwarding = ForwardingService(
            config: config, spool: spool, pool: pool,
            deadLetters: DeadLetterFile(directory: dataDirectory.appendingPathComponent("dead-letter"), logger: logger),
            counters: counters, logger: logger)
        let intake = SpoolIntake(rules: ForwardingRules(config), spool: spool, counters: counters)
        // The listeners' connections stay within the descriptors left after a reserve for
        // partner links, the spool and the admin API (`ConnectionBudget`).
        let descriptors = FileDescriptorLimit.raiseToHard()
        if let failure = descriptors.failure {
            logger.warning("could not raise the open-file limit: \(failure)")
        }
        let listenerSet: ListenerSet
        do {
            listenerSet = try ListenerSet(
                config: config, store: loaded.store.store, crlSource: loaded.loader.crlCache, intake: intake, logger: logger,
                budget: ConnectionBudget(fileDescriptorLimit: descriptors.limit))
        } catch {
            logger.error("not starting: \(error)")
            return 1
        }
        // Bound before the services start, so that an address in use ends the start with
        // exit 1 and a line naming it (docs/reference.md §3) rather than a service group that has to
        // wind down the services already running.
        do {
            try await listenerSet.start()
        } catch {
            logger.error("not starting: \(error)")
            return 1
        }
        let notifier = SystemdNotifier()
        let (running, announceRunning) = AsyncStream.makeStream(of: String.self)
        let reloader = GatewayReloader(
            configPath: configPath, transports: transports, loaded: loaded, pool: pool, intake: intake,
            forwarding: forwarding, listeners: listenerSet, connections: partnerConnections, logger: logger, notifier: notifier)
        await reloader.reportExpiry()
        let listeners = ListenerService(listeners: listenerSet) { bound in
            logger.info("alertgate running", metadata: [
                "config": "\(configPath)",
                "certificates": "\(loaded.store.store.items.count)",
                "appliances": "\(config.appliances.count)",
                "listeners": "\(bound.count)",
                "partners": "\(config.partners.count)",
                "rules": "\(config.rules.count)",
                "spooled": "\(spool.budget.usedBytes) bytes",
            ])
            announceRunning.yield("running: \(bound.count) listeners, \(config.partners.count) partners")
            announceRunning.finish()
        }
        // Shutdown runs in reverse: the admin API and the listeners stop first, then
        // forwarding drains, then reloads.
        let admin = GatewayAdmin(reloader: reloader, pool: pool, counters: counters, listeners: listenerSet, spool: spool)
        let adminServer = config.gateway.admin.map { address in
            AdminServer(address: address, settings: .init(token: config.gateway.adminToken), backend: admin, metrics: metrics, logger: logger)
        }
        if let adminServer {
            do {
                try await adminServer.start()
            } catch {
                logger.error("not starting: \(error)")
                await listenerSet.stop(gracePeriod: .zero)
                return 1
            }
        }
        let services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: CRLRefreshService(reloader: reloader), serviceName: "crl-refresh"),
            .init(service: ReloadService(reloader: reloader, configPath: configPath, signals: reloadSignals, logger: logger), serviceName: "reload"),
            .init(service: forwarding, serviceName: "forwarding"),
            .init(service: listeners, serviceName: "listeners"),
        ] + (adminServer.map { [.init(service: AdminService(server: $0, logger: logger), serviceName: "admin")] } ?? [])
            // Last, so that a stop reaches it first: systemd hears STOPPING=1 at once.
            + (notifier.map { [.init(service: SystemdService(notifier: $0, running: running, spool: spool, logger: logger), serviceName: "systemd")] } ?? [])
        let group = ServiceGroup(configuration: .init(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
            logger.info("alertgate stopped")
            return 0
        } catch {
            logger.error("alertgate stopped on an error: \(error)")
            return 1
        }
    }

    static func logger(for settings: LogSection) throws -> Logger {
        let output = try settings.file.map { try LogOutput.file($0) } ?? .standardError
        let format: LineLogHandler.Format = settings.format == .json ? .json : .text
        return Logger(label: "alertgate") { label in LineLogHandler(label: label, format: format, output: output) }
    }
}
