import AlertGateCore
import Foundation

/// The senders of a running gateway, one per (appliance, partner) link, each with its
/// health: a failed send makes the link wait (exponential backoff with jitter, or the
/// partner's Retry-After) before the next attempt, and the failure's reason is kept for
/// status, logs and metrics.
public actor LinkPool {
    public struct Key: Hashable, Sendable {
        public var appliance: String
        public var partner: String

        public init(appliance: String, partner: String) {
            self.appliance = appliance
            self.partner = partner
        }
    }

    /// Builds the sender of a link on first use.
    public typealias MakeSender = @Sendable (Key) throws -> (sender: any AlertSender, backoff: Backoff)

    private struct Entry {
        /// nil while the link cannot be built (its certificate is invalid, say): it then
        /// waits its backoff like a link whose partner is down.
        var sender: (any AlertSender)?
        var health: LinkHealth
    }

    private let makeSender: MakeSender
    private let fallbackBackoff: Backoff
    private var entries: [Key: Entry] = [:]
    private var random = SystemRandomNumberGenerator()

    /// - Parameter fallbackBackoff: the wait between attempts to build a link that failed.
    public init(fallbackBackoff: Backoff = Backoff(initial: .seconds(1), maximum: .seconds(30)), makeSender: @escaping MakeSender) {
        self.makeSender = makeSender
        self.fallbackBackoff = fallbackBackoff
    }

    /// Sends `alerts` over the link, after the link's backoff wait if it is failing.
    public func deliver(_ alerts: [Alert], over key: Key) async -> DeliveryReport {
        let wait = entries[key]?.health.wait(now: .now) ?? .zero
        if wait > .zero {
            do {
                try await Task.sleep(for: wait)
            } catch {
                return DeliveryReport(accepted: 0, outcome: .retry(after: nil, reason: TransportError(message: "stopped while waiting to retry")))
            }
        }
        let sender: any AlertSender
        if let existing = entries[key]?.sender {
            sender = existing
        } else {
            do {
                let made = try makeSender(key)
                entries[key] = Entry(sender: made.sender, health: entries[key]?.health ?? LinkHealth(backoff: made.backoff))
                sender = made.sender
            } catch {
                let report = DeliveryReport(accepted: 0, outcome: .retry(after: nil, reason: TransportError(message: "\(error)")))
                if entries[key] == nil {
                    entries[key] = Entry(sender: nil, health: LinkHealth(backoff: fallbackBackoff))
                }
                record(report, for: key)
                return report
            }
        }
        let report = await sender.send(alerts)
        record(report, for: key)
        return report
    }

    private func record(_ report: DeliveryReport, for key: Key) {
        guard var entry = entries[key] else { return }
        switch report.outcome {
        case .delivered, .rejected, .deferred:
            // A rejection is the partner's answer over a working connection.
            entry.health.delivered()
        case .retry(let after, let reason):
            entry.health.failed(reason, retryAfter: after, now: .now, random: Double.random(in: 0..<1, using: &random))
        }
        entries[key] = entry
    }

    /// Every link's health, for status.
    public var health: [Key: LinkHealth] {
        entries.mapValues(\.health)
    }

    public func closeAll() async {
        let senders = entries.values.compactMap(\.sender)
        entries = [:]
        for sender in senders {
            await sender.close()
        }
    }
}
