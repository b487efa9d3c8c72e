import AlertGateConfig
import AlertGateCore
import AlertGatePKI
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Every listener of a config, built, bound and stopped together. The runtime makes one
/// from the config and the certificate store, calls `start()`, and `stop()` on shutdown
/// (or wraps these in a swift-service-lifecycle `Service`).
///
/// Building checks what can be checked without the network (each TLS listener's
/// certificate, the appliances' `match` networks, `default_appliance`); `start()` binds
/// each address, and a bind failure names the listener and the address.
public final class ListenerSet: Sendable {
    /// A bound listener.
    public struct Bound: Sendable {
        public var name: String
        public var `protocol`: ListenerProtocol
        /// The address it listens on: with port 0 in the config, the port the system chose.
        public var address: SocketAddress
        let channel: any Channel
    }

    private let listeners: [any Listener]
    private let group: any EventLoopGroup
    private let logger: Logger
    private let tracker = ConnectionTracker()
    private let bound = NIOLockedValueBox<[Bound]>([])

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
        let applianceNames = config.appliances.map(\.name)
        var listeners: [any Listener] = []
        for listener in config.listeners {
            let attribution: ApplianceAttribution
            do {
                attribution = try ApplianceAttribution(appliances: config.appliances, defaultAppliance: listener.defaultAppliance)
            } catch {
                throw .configuration(listener: listener.name, error.description)
            }
            let environment = ListenerEnvironment(
                config: listener, attribution: attribution, intake: intake, logger: logger,
                metrics: ListenerMetrics(listener: listener.name, appliances: applianceNames, factory: metrics))
            switch listener.protocol {
            case .syslogUDP:
                listeners.append(SyslogDatagramListener(environment: environment))
            case .syslogTCP:
                listeners.append(SyslogStreamListener(environment: environment, tls: nil))
            case .syslogTLS:
                let tls = try ListenerTLS(listener: listener, store: store, crlSource: crlSource)
                listeners.append(SyslogStreamListener(environment: environment, tls: SwappableListenerTLS(tls)))
            case .webhook:
                let tls = try ListenerTLS(listener: listener, store: store, crlSource: crlSource)
                listeners.append(WebhookListener(environment: environment, tls: SwappableListenerTLS(tls)))
            }
        }
        self.listeners = listeners
        self.group = group
        self.logger = logger
    }

    /// Binds every listener; if one fails, those already bound are closed again.
    public func start() async throws(ListenerError) {
        var started: [Bound] = []
        for listener in listeners {
            let config = listener.environment.config
            do {
                let channel = try await listener.bind(group: group, tracker: tracker)
                guard let address = channel.localAddress else {
                    throw ListenerError.bind(listener: config.name, address: config.listen, reason: "the socket has no local address")
                }
                started.append(Bound(name: config.name, protocol: config.protocol, address: address, channel: channel))
                logger.info("listener \(config.name) (\(config.protocol.rawValue)) listening on \(ListenerEnvironment.describe(address))", metadata: ["listener": "\(config.name)"])
            } catch {
                for done in started {
                    try? await done.channel.close()
                }
                if let error = error as? ListenerError { throw error }
                throw ListenerError.bind(listener: config.name, address: config.listen, reason: "\(error)")
            }
        }
        bound.withLockedValue { $0 = started }
    }

    /// Takes the certificates and trust bundles of a reloaded store (SPEC §8): each TLS
    /// listener's context is built anew from it, and only if every one can be are they
    /// swapped in, for the connections accepted from then on. On an error nothing changes
    /// and the listeners keep their current certificates.
    public func reload(store: CertificateStore, crlSource: any CRLSource) throws(ListenerError) {
        var replacements: [(SwappableListenerTLS, ListenerTLS)] = []
        for listener in listeners {
            guard let slot = listener.swappableTLS else { continue }
            replacements.append((slot, try ListenerTLS(listener: listener.environment.config, store: store, crlSource: crlSource)))
        }
        for (slot, tls) in replacements {
            slot.replace(with: tls)
        }
    }

    /// The bound listeners, in config order (empty before `start()`).
    public var listening: [Bound] {
        bound.withLockedValue { $0 }
    }

    /// The address a listener is bound to.
    public func address(of listener: String) -> SocketAddress? {
        listening.first { $0.name == listener }?.address
    }

    /// Stops accepting, then lets each open connection finish the batch it has with the
    /// intake and closes it; after `gracePeriod` (a spool that stays full) the rest are
    /// closed anyway (their batches are still offered to the intake until stored).
    public func stop(gracePeriod: Duration = .seconds(10)) async {
        let listeners = bound.withLockedValue { current in
            defer { current = [] }
            return current
        }
        for listener in listeners where listener.protocol != .syslogUDP {
            try? await listener.channel.close()
        }
        let open = tracker.open
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        // Polled rather than awaited on `closeFuture`: a connection whose batch the full
        // spool keeps refusing never closes by itself, and the wait must end at the deadline.
        let deadline = ContinuousClock.now + gracePeriod
        while open.contains(where: \.isActive), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for channel in tracker.open {
            try? await channel.close()
        }
        logger.info("listeners stopped")
    }
}
