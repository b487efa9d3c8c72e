import AlertGateConfig
import AlertGateCore
import AlertGateSpool
import Logging
import ServiceLifecycle
import Synchronization

/// Runs a dispatcher for every (partner, appliance) link the rules can feed, and for every
/// queue an earlier run left with alerts in it; a reload that adds partners, appliances or
/// rules adds dispatchers (`serve(_:)`). A dispatcher whose partner a reload removed keeps
/// its queue: it retries with backoff until the partner is back or an operator deletes it.
/// On graceful shutdown (SIGTERM) the dispatchers send nothing new, the batches in flight
/// finish (for at most `drainTimeout`), and the connections close; what was not sent
/// stays in the spool for the next start.
public final class ForwardingService: Service {
    private let initialConfig: GatewayConfig
    private let spool: Spool
    private let pool: LinkPool
    private let deadLetters: DeadLetterFile
    private let counters: ForwardingCounters
    private let logger: Logger
    private let drainTimeout: Duration
    private let dispatchers: Mutex<[Spool.Key: Dispatcher]>
    private let started: AsyncStream<Dispatcher>
    private let start: AsyncStream<Dispatcher>.Continuation

    public init(config: GatewayConfig, spool: Spool, pool: LinkPool, deadLetters: DeadLetterFile, counters: ForwardingCounters, logger: Logger, drainTimeout: Duration = .seconds(10)) {
        self.initialConfig = config
        self.spool = spool
        self.pool = pool
        self.deadLetters = deadLetters
        self.counters = counters
        self.logger = logger
        self.drainTimeout = drainTimeout
        self.dispatchers = Mutex([:])
        (started, start) = AsyncStream.makeStream(of: Dispatcher.self)
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

    /// Starts a dispatcher for each link of `config` that has none yet, and for each queue
    /// on disk that still holds alerts for a partner and appliance the config has.
    public func serve(_ config: GatewayConfig) async throws {
        counters.register(partners: config.partners.map(\.name))
        var keys = Self.links(of: config)
        for key in spool.keys.sorted(by: { $0.description < $1.description }) where !keys.contains(key) {
            let depth = try await spool.queue(for: key).depth
            guard depth > 0 else { continue }
            if config.partner(named: key.partner) != nil, config.appliance(named: key.appliance) != nil {
                keys.append(key)
            } else if dispatchers.withLock({ $0[key] == nil }) {
                logger.warning("the spool holds \(depth) alerts for partner \(key.partner) as appliance \(key.appliance), which the config does not have; they are kept until it does")
            }
        }
        for key in keys where dispatchers.withLock({ $0[key] == nil }) {
            guard let partner = config.partner(named: key.partner) else { continue }
            let dispatcher = Dispatcher(
                key: key, queue: try spool.queue(for: key), pool: pool, limits: partner.batch, deadLetters: deadLetters,
                counters: counters, logger: logger)
            dispatchers.withLock { $0[key] = dispatcher }
            start.yield(dispatcher)
        }
    }

    public func run() async throws {
        try await serve(initialConfig)
        let started = started
        let running = Task {
            await withDiscardingTaskGroup { group in
                for await dispatcher in started {
                    group.addTask { await dispatcher.run() }
                }
            }
        }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler { await running.value } onCancel: { running.cancel() }
        } onGracefulShutdown: {
            self.start.finish()
            let all = self.dispatchers.withLock { Array($0.values) }
            let drainTimeout = self.drainTimeout
            Task {
                for dispatcher in all {
                    await dispatcher.stop()
                }
                try? await Task.sleep(for: drainTimeout)
                running.cancel()
            }
        }
        await pool.closeAll()
    }
}
