import AlertGateConfig
import AlertGatePKI
import Logging
import Metrics

/// Everything a listener's connections work with, built from one `listeners:` entry, the
/// appliances and the certificate store: its environment (config, attribution, intake,
/// logging) and, for syslog-tls and webhook listeners, its TLS side.
struct ListenerSettings: Sendable {
    let environment: ListenerEnvironment
    /// nil for syslog-tcp and syslog-udp.
    let tls: ListenerTLS?

    var config: ListenerConfig { environment.config }

    /// What every listener of a set shares, kept for building settings anew on a reload.
    struct Context: Sendable {
        let intake: any AlertIntake
        let logger: Logger
        let metrics: any MetricsFactory
        /// The connections all listeners may hold together; nil: no cap beyond their own.
        let budget: ConnectionBudget?
        /// The memory of alerts parsed and not yet stored, shared by every listener.
        let ingestMemory: IngestBudget
    }

    /// The settings of every listener of `config`, in config order. Checks what can be
    /// checked without the network (each TLS listener's certificate, the appliances'
    /// `match` networks, `default_appliance`).
    ///
    /// - Parameter serving: the TLS sides in use, by listener name, for a listener whose
    ///   certificate fails now to keep serving with (logged), taking the new trust and CRLs;
    ///   without it such a listener is an error.
    static func all(
        config: GatewayConfig, store: CertificateStore, crlSource: any CRLSource, context: Context, serving: [String: ListenerTLS]? = nil
    ) throws(ListenerError) -> [ListenerSettings] {
        let applianceNames = config.appliances.map(\.name)
        let streams = config.listeners.filter { $0.protocol != .syslogUDP }.map { (name: $0.name, maxConnections: $0.maxConnections) }
        let caps = context.budget?.share(streams).caps ?? [:]
        var all: [ListenerSettings] = []
        for listener in config.listeners {
            let attribution: ApplianceAttribution
            do {
                attribution = try ApplianceAttribution(appliances: config.appliances, defaultAppliance: listener.defaultAppliance)
            } catch {
                throw .configuration(listener: listener.name, error.description)
            }
            let environment = ListenerEnvironment(
                config: listener, limits: ConnectionLimits(listener, maxConnections: caps[listener.name]), attribution: attribution,
                intake: context.intake, logger: context.logger,
                metrics: ListenerMetrics(listener: listener.name, kind: listener.protocol, appliances: applianceNames, factory: context.metrics), logLimiter: ListenerLogLimiter(),
                ingestMemory: context.ingestMemory)
            var tls: ListenerTLS?
            if listener.protocol.usesTLS {
                do {
                    tls = try ListenerTLS(listener: listener, store: store, crlSource: crlSource)
                } catch {
                    guard let current = serving?[listener.name] else { throw error }
                    context.logger.error("\(error); it keeps serving its current certificate", metadata: ["listener": "\(listener.name)"])
                    tls = current.trusting(store, crlSource: crlSource)
                }
            }
            all.append(ListenerSettings(environment: environment, tls: tls))
        }
        return all
    }

    /// Whether `other` is the same listener entry, wherever it stands in the file.
    func hasSameEntry(as other: ListenerSettings) -> Bool {
        var entry = other.config
        entry.location = config.location
        return entry == config
    }

    /// Whether `other` listens on the same socket (a change here needs a new bind).
    func bindsLike(_ other: ListenerSettings) -> Bool {
        config.protocol == other.config.protocol && config.listen == other.config.listen
    }
}
