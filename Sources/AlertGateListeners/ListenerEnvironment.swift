import AlertGateConfig
import AlertGateIngest
import Logging
import NIOCore

/// What every connection of one listener shares: its config, who its senders are, where
/// alerts go, and how problems are logged and counted. Built once per listener.
struct ListenerEnvironment: Sendable {
    let config: ListenerConfig
    /// `config`'s limits, `max_connections` within the process's file descriptors.
    let limits: ConnectionLimits
    let attribution: ApplianceAttribution
    let intake: any AlertIntake
    let logger: Logger
    let metrics: ListenerMetrics
    /// One line a second per kind of problem, whichever connection has it.
    let logLimiter: ListenerLogLimiter
    /// The memory of alerts parsed and not yet stored, shared by every listener of the set.
    let ingestMemory: IngestBudget
    let parser = AlertParser()

    var name: String { config.name }

    /// Counts a problem always, and logs it unless a line of its kind was logged in the
    /// last second on this listener.
    func problem(_ reason: IngestErrorReason, peer: String, _ message: @autoclosure () -> String, level: Logger.Level = .warning) {
        metrics.countError(reason)
        log(reason.rawValue, peer: peer, message(), level: level)
    }

    /// Counts a connection the listener closes on its own, and logs it unless one of the
    /// same reason was logged in the last second on this listener.
    func refuse(_ reason: ConnectionRefusal, peer: String) {
        metrics.countRefusal(reason)
        log(reason.rawValue, peer: peer, "closed the connection of \(peer): \(reason.explanation)", level: .warning)
    }

    /// Logs one line of `kind` unless one was logged in the last second on this listener.
    func log(_ kind: String, peer: String, _ message: @autoclosure () -> String, level: Logger.Level, metadata: Logger.Metadata = [:]) {
        guard let suppressed = logLimiter.admit(kind) else { return }
        logger.log(
            level: level, "listener \(config.name): \(message())\(ListenerLogLimiter.suffix(suppressed))",
            metadata: metadata.merging(["listener": "\(config.name)", "peer": "\(peer)", "reason": "\(kind)"]) { $1 })
    }

    /// `10.1.2.3:514`, `[fd00::1]:514`, or `unknown`.
    static func describe(_ address: SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress else { return "unknown" }
        let port = address.port.map(String.init) ?? "?"
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
