import AlertGateSpool
import Metrics
import Synchronization

/// The forwarding side's metrics (SPEC §9): alerts forwarded and failed per partner, alerts
/// no rule matched, and each partner's spool depth (the sum of its links' queues). Also
/// what status shows of each partner as delivered (queued comes from the spool itself).
public final class ForwardingCounters: Sendable {
    private let factory: any MetricsFactory
    private let depths: Mutex<[Spool.Key: Int]>
    private let delivered: Mutex<[String: Int]>

    public init(metrics: any MetricsFactory = MetricsSystem.factory) {
        factory = metrics
        depths = Mutex([:])
        delivered = Mutex([:])
    }

    func forwarded(_ count: Int, partner: String) {
        guard count > 0 else { return }
        delivered.withLock { $0[partner, default: 0] += count }
        Counter(label: "alertgate_alerts_forwarded_total", dimensions: [("partner", partner)], factory: factory).increment(by: count)
    }

    func failed(_ count: Int, partner: String, reason: String) {
        guard count > 0 else { return }
        Counter(label: "alertgate_alerts_failed_total", dimensions: [("partner", partner), ("reason", reason)], factory: factory).increment(by: count)
    }

    func unmatched(_ count: Int) {
        guard count > 0 else { return }
        Counter(label: "alertgate_alerts_unmatched_total", factory: factory).increment(by: count)
    }

    func setDepth(_ depth: Int, of key: Spool.Key) async {
        let total = depths.withLock { depths in
            depths[key] = depth
            return depths.filter { $0.key.partner == key.partner }.values.reduce(0, +)
        }
        Gauge(label: "alertgate_spool_depth", dimensions: [("partner", key.partner)], factory: factory).record(total)
    }

    /// Alerts `partner` accepted since the start.
    public func delivered(partner: String) -> Int {
        delivered.withLock { $0[partner, default: 0] }
    }
}
