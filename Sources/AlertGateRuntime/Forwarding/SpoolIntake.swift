import AlertGateCore
import AlertGateListeners
import AlertGateSpool
import Synchronization

/// The listeners' `AlertIntake`: the forwarding rules pick each alert's partners and the
/// spool stores it in the queue of each (partner, appliance) link, durably, before the
/// listener acknowledges it.
public final class SpoolIntake: AlertIntake {
    private let currentRules: Mutex<ForwardingRules>
    public let spool: Spool
    public let counters: ForwardingCounters
    /// What a refused sender is told to wait (webhook Retry-After; syslog backpressure).
    public let retryAfter: Duration

    public init(rules: ForwardingRules, spool: Spool, counters: ForwardingCounters, retryAfter: Duration = .seconds(1)) {
        self.retryAfter = retryAfter
        self.currentRules = Mutex(rules)
        self.spool = spool
        self.counters = counters
    }

    /// The rules in use now.
    public var rules: ForwardingRules {
        currentRules.withLock { $0 }
    }

    /// A reload's new rules, for every batch from now on.
    public func replaceRules(_ rules: ForwardingRules) {
        currentRules.withLock { $0 = rules }
    }

    public func accept(_ alerts: [Alert], from listener: String) async -> IntakeOutcome {
        let rules = self.rules
        var batches: [Spool.Key: [Alert]] = [:]
        var unmatched = 0
        var cache = RuleCache()
        // Mostly one appliance and one rule's partners for a whole read: the batch then goes
        // to its queues as it is, without copying alert by alert.
        var common: [String]?
        var uniform = true
        for alert in alerts {
            let partners = cache.partners(for: alert, rules: rules)
            if uniform {
                if common == nil {
                    common = partners
                } else if partners != common || alert.appliance != alerts[0].appliance {
                    uniform = false
                }
            }
            if partners.isEmpty {
                unmatched += 1
            }
        }
        if uniform, let partners = common, let first = alerts.first {
            for partner in partners {
                batches[Spool.Key(partner: partner, appliance: first.appliance)] = alerts
            }
        } else {
            cache = RuleCache()
            for alert in alerts {
                for partner in cache.partners(for: alert, rules: rules) {
                    batches[Spool.Key(partner: partner, appliance: alert.appliance), default: []].append(alert)
                }
            }
        }
        counters.unmatched(unmatched)
        guard !batches.isEmpty else { return .stored }
        do {
            try await spool.append(batches)
            return .stored
        } catch {
            switch error {
            case .full:
                return .full(retryAfter: retryAfter)
            case .io:
                return .failed(reason: error.description)
            }
        }
    }
}

/// The partners of alerts that share what rules look at (appliance, severity, protocol,
/// engine): one read's alerts mostly do, and matching every rule for each is the costly
/// part of intake.
private struct RuleCache {
    private struct Facts: Hashable {
        var appliance: String
        var severity: Severity
        var protocolName: String?
        var engine: String?
    }

    private var last: (Facts, [String])?

    mutating func partners(for alert: Alert, rules: ForwardingRules) -> [String] {
        let facts = Facts(appliance: alert.appliance, severity: alert.severity, protocolName: alert.protocolName, engine: alert.engine)
        if let last, last.0 == facts {
            return last.1
        }
        let partners = rules.partners(for: alert)
        last = (facts, partners)
        return partners
    }
}
