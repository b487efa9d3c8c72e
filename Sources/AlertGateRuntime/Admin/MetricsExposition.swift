import Metrics
import Prometheus

/// The gateway's metrics in Prometheus text (`GET /metrics`): a registry, and the
/// swift-metrics factory that records into it.
///
/// The factory puts each metric's labels in name order: swift-prometheus keys a series by
/// its labels as given, so `{partner,check}` and `{check,partner}` from two call sites
/// would otherwise be two series of one metric.
public struct MetricsExposition: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory

    /// The content type of `render()`'s output.
    public static let contentType = "text/plain; version=0.0.4"

    /// A fresh registry of its own (tests; the gateway uses `bootstrap()`).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.nameAndLabelSanitizer = { name, labels in
            (name, labels.sorted { $0.0 < $1.0 })
        }
        self.factory = factory
    }

    /// The metric families docs/reference.md §9 (and §11) lists, with their types. Those whose label
    /// sets are all known are made at 0 when the gateway starts (per partner, appliance,
    /// listener); those labelled by what happens (the failed `check`) have no series until
    /// it first happens, so `render()` writes their `# TYPE` line alone until then: a
    /// dashboard or alert rule finds every family from the start.
    public static let families: [(name: String, type: String)] = [
        ("alertgate_alerts_received_total", "counter"),
        ("alertgate_alerts_forwarded_total", "counter"),
        ("alertgate_alerts_failed_total", "counter"),
        ("alertgate_alerts_unmatched_total", "counter"),
        ("alertgate_spool_depth", "gauge"),
        ("alertgate_spool_used_bytes", "gauge"),
        ("alertgate_spool_quota_bytes", "gauge"),
        ("alertgate_connections", "gauge"),
        ("alertgate_handshake_failures_total", "counter"),
        ("alertgate_validation_bypassed_total", "counter"),
        ("alertgate_certificate_not_after_seconds", "gauge"),
        ("alertgate_reload_failures_total", "counter"),
        ("alertgate_reloads_total", "counter"),
    ]

    /// Every metric recorded so far, in the text exposition format 0.0.4, and the
    /// `# TYPE` line of each of `families` that has no series yet.
    public func render() -> [UInt8] {
        var output = registry.emitToBuffer()
        let text = String(decoding: output, as: UTF8.self)
        for family in Self.families where !text.contains("# TYPE \(family.name) ") {
            output += Array("# TYPE \(family.name) \(family.type)\n".utf8)
        }
        return output
    }

    /// The process's exposition, bootstrapped as `MetricsSystem`'s factory the first time
    /// this is called; later calls return the same one (`MetricsSystem.bootstrap` itself
    /// may run only once per process).
    public static func bootstrap() -> MetricsExposition {
        bootstrapped
    }

    private static let bootstrapped: MetricsExposition = {
        let exposition = MetricsExposition()
        MetricsSystem.bootstrap(exposition.factory)
        return exposition
    }()
}
