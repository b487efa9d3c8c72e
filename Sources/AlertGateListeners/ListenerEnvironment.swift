import AlertGateConfig
import AlertGateIngest
import Logging
import NIOCore

/// What every connection of one listener shares: its config, who its senders are, where
/// alerts go, and how problems are logged and counted. Built once per listener.
struct ListenerEnvironment: Sendable {
    let config: ListenerConfig
    let attribution: ApplianceAttribution
    let intake: any AlertIntake
    let logger: Logger
    let metrics: ListenerMetrics
    /// Shared by every listener of the set.
    let budget: IngestBudget
    let parser = AlertParser()

    var name: String { config.name }

    /// Counts a problem always, and logs it unless `limiter` says this sender has had its
    /// share of lines this second.
    func problem(_ reason: IngestErrorReason, peer: String, _ message: @autoclosure () -> String, limiter: inout LogRateLimiter, level: Logger.Level = .warning) {
        metrics.countError(reason)
        guard let suppressed = limiter.admit() else { return }
        let suffix = suppressed > 0 ? " (\(suppressed) similar lines from this sender left out)" : ""
        logger.log(level: level, "listener \(config.name): \(message())\(suffix)", metadata: ["listener": "\(config.name)", "peer": "\(peer)", "reason": "\(reason.rawValue)"])
    }

    /// `10.1.2.3:514`, `[fd00::1]:514`, or `unknown`.
    static func describe(_ address: SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress else { return "unknown" }
        let port = address.port.map(String.init) ?? "?"
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
