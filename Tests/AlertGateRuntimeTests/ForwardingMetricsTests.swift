import AlertGateCore
import AlertGateSpool
import Foundation
import Logging
import Testing

@testable import AlertGateRuntime

/// The forwarding counters as `/metrics` shows them (docs/reference.md §9).
@Suite struct ForwardingMetricsTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fwd-metrics-\(UUID().uuidString)")
    let key = Spool.Key(partner: "qradar", appliance: "sensor-1")

    /// The lines of `/metrics` that start with `name{` or `name `.
    func series(_ name: String, in metrics: MetricsExposition) -> [String] {
        String(decoding: metrics.render(), as: UTF8.self).split(separator: "\n").map(String.init)
            .filter { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }
    }

    @Test func failedCountsEachAlertThatFailedForGoodOnceAndRetriesApart() async throws {
        let metrics = MetricsExposition()
        let counters = ForwardingCounters(metrics: metrics.factory)
        counters.register(partners: ["qradar"])
        // Three sends of the 5 alerts fail (connection refused), then a3 is refused for good.
        let sender = DispatcherTests.ScriptedSender([.acceptThenFail(0), .acceptThenFail(0), .acceptThenFail(0), .rejectIf("a3")])
        let spool = try Spool(directory: folder.appendingPathComponent("spool"), quota: 1 << 30)
        let queue = try spool.queue(for: key)
        try await queue.append((1...5).map { Alert(id: "a\($0)", receivedAt: Date(), severity: .major, title: "alert \($0)", appliance: "sensor-1") })
        let pool = LinkPool { _ in (sender, Backoff(initial: .milliseconds(5), maximum: .milliseconds(10))) }
        let dispatcher = Dispatcher(
            key: key, queue: queue, pool: pool, limits: .init(maxAlerts: 10, maxBytes: 1 << 20, maxDelay: .zero),
            deadLetters: DeadLetterFile(directory: folder.appendingPathComponent("dead-letter")), counters: counters, logger: Logger(label: "test"))
        let running = Task { await dispatcher.run() }
        let deadline = ContinuousClock.now + .seconds(30)
        while await queue.depth > 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        await dispatcher.stop()
        await running.value

        // a1, a2 accepted; a3…a5 refused for good: 3 failed, not 3 + 3 × 5 attempts.
        #expect(series("alertgate_alerts_failed_total", in: metrics) == [#"alertgate_alerts_failed_total{partner="qradar",reason="rejected"} 3"#])
        #expect(series("alertgate_alerts_forwarded_total", in: metrics) == [#"alertgate_alerts_forwarded_total{partner="qradar"} 2"#])
        #expect(series("alertgate_alerts_retried_total", in: metrics) == [#"alertgate_alerts_retried_total{partner="qradar",reason="unavailable"} 15"#])
    }

    @Test func everySPECFamilyIsInTheExpositionBeforeItsFirstEvent() {
        let metrics = MetricsExposition()
        let counters = ForwardingCounters(metrics: metrics.factory)
        counters.register(partners: ["qradar", "splunk"])
        let text = String(decoding: metrics.render(), as: UTF8.self)
        for family in MetricsExposition.families {
            #expect(text.contains("# TYPE \(family.name) \(family.type)\n"), "\(family.name)")
        }
        let lines = Set(text.split(separator: "\n").map(String.init))
        #expect(lines.contains(#"alertgate_alerts_forwarded_total{partner="splunk"} 0"#))
        #expect(lines.contains(#"alertgate_alerts_failed_total{partner="qradar",reason="rejected"} 0"#))
        #expect(lines.contains("alertgate_alerts_unmatched_total 0"))
    }
}
