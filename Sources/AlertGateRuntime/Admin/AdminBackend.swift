import AlertGateCore
import Foundation

/// What the admin API (SPEC §9) asks of the running gateway. The admin server only
/// renders what this answers; the gateway supplies the real one.
public protocol AdminBackend: Sendable {
    /// Listeners bound and the certificate store valid.
    func isReady() async -> Bool
    func status() async -> GatewayStatus
    /// Runs a reload (SPEC §8) and returns its outcome.
    func reload() async -> ReloadReport
}
