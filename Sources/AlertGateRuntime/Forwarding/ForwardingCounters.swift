import AlertGateSpool
import Metrics
import Synchronization

/// The forwarding side's metrics (docs/reference.md §9), and what status shows of each partner as
/// delivered:
///
/// - `alertgate_alerts_forwarded_total{partner}`: alerts the partner accepted.
/// - `alertgate_alerts_failed_total{partner,reason}`: alerts that failed for good, each
///   once: `rejected` (the partner refused them; they went to the dead-letter file).
/// - `alertgate_alerts_retried_total{partner,reason}`: sends of an alert that did not go
///   through and will be made again (`deferred` for a 429/503, else the failed check or
///   `unavailable`); one alert retried four times counts four.
/// - `alertgate_alerts_unmatched_total`: alerts no rule matched.
///
/// `register(partners:)` makes each partner's series at 0, so that they are in `/metrics`
/// from the start. The spool depth is read at scrape time (`GatewayAdmin.updateMetrics`).
public final class ForwardingCounters: Sendable {
    /// The `reason`s of `alertgate_alerts_failed_total`.
    public static let failureReasons = ["rejected"]

    private let factory: any MetricsFactory
    private let delivered: Mutex<[String: Int]>

    public init(metrics: any MetricsFactory = MetricsSystem.factory) {
        factory = metrics
        delivered = Mutex([:])
        Counter(label: "alertgate_alerts_unmatched_total", factory: factory).increment(by: 0)
    }

    /// Makes the counters of `partners` at 0 where they are not yet.
    public func register(partners: [String]) {
        for partner in partners {
            Counter(label: "alertgate_alerts_forwarded_total", dimensions: [("partner", partner)], factory: factory).increment(by: 0)
            for reason in Self.failureReasons {
                Counter(label: "alertgate_alerts_failed_total", dimensions: [("partner", partner), ("reason", reason)], factory: factory).increment(by: 0)
            }
        }
    }

    func forwarded(_ count: Int, partner: String) {
        guard count > 0 else { return }
        delivered.withLock { $0[partner, default: 0] += count }
        Counter(label: "alertgate_alerts_forwarded_total", dimensions: [("partner", partner)], factory: factory).increment(by: count)
    }

    /// Alerts that failed for good (each counted once).
    func failed(_ count: Int, partner: String, reason: String) {
        guard count > 0 else { return }
        Counter(label: "alertgate_alerts_failed_total", dimensions: [("partner", partner), ("reason", reason)], factory: factory).increment(by: count)
    }

    /// Alerts of a send that did not go through and will be sent again.
    func retried(_ count: Int, partner: String, reason: String) {
        guard count > 0 else { return }
        Counter(label: "alertgate_alerts_retried_total", dimensions: [("partner", partner), ("reason", reason)], factory: factory).increment(by: count)
    }

    func unmatched(_ count: Int) {
        guard count > 0 else { return }
        Counter(label: "alertgate_alerts_unmatched_total", factory: factory).increment(by: count)
    }

    /// Alerts `partner` accepted since the start.
    public func delivered(partner: String) -> Int {
        delivered.withLock { $0[partner, default: 0] }
    }
}
