import AlertGateCore
import Foundation

/// What the admin API (docs/reference.md §9) asks of the running gateway. The admin server only
/// renders what this answers; the gateway supplies the real one.
public protocol AdminBackend: Sendable {
    /// Listeners bound and the certificate store valid.
    func isReady() async -> Bool
    func status() async -> GatewayStatus
    /// Runs a reload (docs/reference.md §8) and returns its outcome.
    func reload() async -> ReloadReport
    /// Records, just before `/metrics` is rendered, the values read at scrape time rather
    /// than counted as they change (each partner's spool depth, from the spool itself).
    func updateMetrics() async
}

extension AdminBackend {
    public func updateMetrics() async {}
}
