import AlertGateCore
import Foundation
import Metrics

/// The senders of a running gateway, one per (appliance, partner) link, each with its
/// health: a failed send makes the link wait (exponential backoff with jitter, or the
/// partner's Retry-After) before the next attempt, and the failure's reason is kept for
/// status, logs and metrics.
///
/// A reload (`renew(makeSender:)`) swaps how senders are built — the appliance's new
/// certificate, a partner's new trust or policy — at once: the next send of each link
/// builds a new sender (a new connection), and the old one is closed when the sends it
/// still has in flight are back, so nothing in flight is cut off and sent twice.
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

    /// One sender and the sends it has in flight.
    private final class Slot {
        let sender: any AlertSender
        var inFlight = 0
        var retired = false

        init(sender: any AlertSender) {
            self.sender = sender
        }
    }

    private struct Entry {
        /// nil while the link cannot be built (its certificate is invalid, say): it then
        /// waits its backoff like a link whose partner is down.
        var slot: Slot?
        var health: LinkHealth
    }

    private var makeSender: MakeSender
    private let fallbackBackoff: Backoff
    private let metrics: any MetricsFactory
    private var entries: [Key: Entry] = [:]
    private var random = SystemRandomNumberGenerator()

    /// - Parameter fallbackBackoff: the wait between attempts to build a link that failed.
    /// - Parameter metrics: where `alertgate_connections{partner,appliance,state}` goes
    ///   (1 for each link's current state, 0 for the others).
    public init(
        fallbackBackoff: Backoff = Backoff(initial: .seconds(1), maximum: .seconds(30)), metrics: any MetricsFactory = MetricsSystem.factory,
        makeSender: @escaping MakeSender
    ) {
        self.makeSender = makeSender
        self.fallbackBackoff = fallbackBackoff
        self.metrics = metrics
    }

    /// From now on, links are built with `makeSender`: each link's current sender is
    /// closed now if idle, else as soon as the sends it carries are back, and the link's
    /// next send opens a new connection (checked afresh: a partner a new CRL revokes is
    /// refused then).
    public func renew(makeSender: @escaping MakeSender) {
        self.makeSender = makeSender
        for (key, entry) in entries {
            if let slot = entry.slot {
                retire(slot)
                entries[key]?.slot = nil
            } else {
                // A link that failed to build gets a new chance at once with the new state.
                entries[key] = nil
            }
        }
    }

    /// From now on, new senders are built with `makeSender`; the open ones stay (a CRL
    /// refresh that changed no certificate of the store: their connections are checked
    /// again one by one, `PartnerConnections.recheckAll`, rather than all reopened).
    /// A link that failed to build gets a new chance at once with the new state.
    public func update(makeSender: @escaping MakeSender) {
        self.makeSender = makeSender
        for (key, entry) in entries where entry.slot == nil {
            entries[key] = nil
        }
    }

    /// Sends `alerts` over the link, after the link's backoff wait if it is failing.
    /// `beforeSend` runs once the wait is over and the sender is there, right before the
    /// alerts are handed to it (the dispatcher marks them in flight then: a long outage's
    /// waits are not "sending").
    public func deliver(_ alerts: [Alert], over key: Key, beforeSend: @Sendable () async -> Void = {}) async -> DeliveryReport {
        let wait = entries[key]?.health.wait(now: .now) ?? .zero
        if wait > .zero {
            do {
                try await Task.sleep(for: wait)
            } catch {
                return DeliveryReport(accepted: 0, outcome: .retry(after: nil, reason: TransportError(message: "stopped while waiting to retry")))
            }
        }
        let slot: Slot
        if let existing = entries[key]?.slot, !existing.retired {
            slot = existing
        } else {
            do {
                let made = try makeSender(key)
                slot = Slot(sender: made.sender)
                if let old = entries[key]?.slot {
                    retire(old)
                }
                entries[key] = Entry(slot: slot, health: entries[key]?.health ?? LinkHealth(backoff: made.backoff))
            } catch {
                let report = DeliveryReport(accepted: 0, outcome: .retry(after: nil, reason: TransportError(message: "\(error)")))
                if entries[key] == nil {
                    entries[key] = Entry(slot: nil, health: LinkHealth(backoff: fallbackBackoff))
                }
                record(report, for: key)
                return report
            }
        }
        slot.inFlight += 1
        await beforeSend()
        let report = await slot.sender.send(alerts)
        slot.inFlight -= 1
        if slot.retired, slot.inFlight == 0 {
            close(slot.sender)
        }
        record(report, for: key)
        return report
    }

    private func retire(_ slot: Slot) {
        slot.retired = true
        if slot.inFlight == 0 {
            close(slot.sender)
        }
    }

    private nonisolated func close(_ sender: any AlertSender) {
        Task { await sender.close() }
    }

    private func record(_ report: DeliveryReport, for key: Key) {
        guard var entry = entries[key] else { return }
        let before = entry.health.state
        defer {
            if entry.health.state != before {
                publish(entry.health.state, of: key)
            }
        }
        switch report.outcome {
        case .delivered, .rejected, .deferred:
            // The partner answered over a working connection.
            entry.health.delivered()
        case .retry(let after, let reason):
            entry.health.failed(reason, retryAfter: after, now: .now, random: Double.random(in: 0..<1, using: &random))
        }
        entries[key] = entry
    }

    private func publish(_ state: LinkHealth.State, of key: Key) {
        let states: [(LinkHealth.State, String)] = [(.idle, "connecting"), (.connected, "connected"), (.failing, "failing")]
        for (candidate, name) in states {
            Gauge(label: "alertgate_connections", dimensions: [("partner", key.partner), ("appliance", key.appliance), ("state", name)], factory: metrics)
                .record(candidate == state ? 1 : 0)
        }
    }

    /// Every link's health, for status.
    public var health: [Key: LinkHealth] {
        entries.mapValues(\.health)
    }

    public func closeAll() async {
        let slots = entries.values.compactMap(\.slot)
        entries = [:]
        for slot in slots {
            await slot.sender.close()
        }
    }
}
