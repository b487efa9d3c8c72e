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

    /// Every metric recorded so far, in the text exposition format 0.0.4.
    public func render() -> [UInt8] {
        registry.emitToBuffer()
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
