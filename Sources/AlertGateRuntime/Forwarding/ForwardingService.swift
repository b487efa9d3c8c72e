import AlertGateConfig
import AlertGateCore
import AlertGateSpool
import Logging
import ServiceLifecycle

/// Runs a dispatcher for every (partner, appliance) link the rules can feed, and for every
/// queue an earlier run left with alerts in it. On graceful shutdown (SIGTERM) the
/// dispatchers send nothing new, the batches in flight finish (for at most
/// `drainTimeout`), and the connections close; what was not sent stays in the spool for
/// the next start.
public final class ForwardingService: Service {
    private let config: GatewayConfig
    private let spool: Spool
    private let pool: LinkPool
    private let deadLetters: DeadLetterFile
    private let counters: ForwardingCounters
    private let logger: Logger
    private let drainTimeout: Duration

    public init(config: GatewayConfig, spool: Spool, pool: LinkPool, deadLetters: DeadLetterFile, counters: ForwardingCounters, logger: Logger, drainTimeout: Duration = .seconds(10)) {
        self.config = config
        self.spool = spool
        self.pool = pool
        self.deadLetters = deadLetters
        self.counters = counters
        self.logger = logger
        self.drainTimeout = drainTimeout
    }

    /// The links the config's rules can send alerts over.
    public static func links(of config: GatewayConfig) -> [Spool.Key] {
        var keys: [Spool.Key] = []
        var seen = Set<Spool.Key>()
        for rule in config.rules {
            for appliance in rule.appliances ?? config.appliances.map(\.name) {
                for partner in rule.partners where seen.insert(Spool.Key(partner: partner, appliance: appliance)).inserted {
                    keys.append(Spool.Key(partner: partner, appliance: appliance))
                }
            }
        }
        return keys
    }

    public func run() async throws {
        var keys = Self.links(of: config)
        for key in spool.keys.sorted(by: { $0.description < $1.description }) where !keys.contains(key) {
            let depth = try await spool.queue(for: key).depth
            guard depth > 0 else { continue }
            if config.partner(named: key.partner) != nil, config.appliance(named: key.appliance) != nil {
                keys.append(key)
            } else {
                logger.warning("the spool holds \(depth) alerts for partner \(key.partner) as appliance \(key.appliance), which the config no longer has; they are kept until it does")
            }
        }
        var made: [Dispatcher] = []
        for key in keys {
            guard let partner = config.partner(named: key.partner) else { continue }
            let queue = try spool.queue(for: key)
            made.append(Dispatcher(
                key: key, queue: queue, pool: pool, limits: partner.batch, deadLetters: deadLetters,
                counters: counters, logger: logger))
        }
        let dispatchers = made
        let running = Task {
            await withTaskGroup(of: Void.self) { group in
                for dispatcher in dispatchers {
                    group.addTask { await dispatcher.run() }
                }
            }
        }
        let drainTimeout = drainTimeout
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler { await running.value } onCancel: { running.cancel() }
            // With no link to serve (no rules yet) the service still runs until shutdown:
            // a service that returns early stops the whole gateway.
            try? await gracefulShutdown()
        } onGracefulShutdown: {
            Task {
                for dispatcher in dispatchers {
                    await dispatcher.stop()
                }
                try? await Task.sleep(for: drainTimeout)
                running.cancel()
            }
        }
        await pool.closeAll()
    }
}
