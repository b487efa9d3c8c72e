import AlertGateTesting
import Foundation
import Testing

/// `/metrics` of a running gateway against what its status says (docs/reference.md §9).
@Suite(.serialized) struct MetricsTests {
    func metricLines(_ harness: GatewayHarness) async throws -> [String] {
        try await harness.admin("/metrics").body.split(separator: "\n").map(String.init)
    }

    func value(_ series: String, in lines: [String]) -> Double? {
        lines.first { $0.hasPrefix(series + " ") }.flatMap { Double($0.dropFirst(series.count + 1)) }
    }

    @Test func everyFamilyIsThereFromTheStartAndTheSpoolDepthIsWhatStatusQueues() async throws {
        let harness = try GatewayHarness()
        // Nothing listens on the partner's port: every alert stays queued and is retried.
        try harness.writeConfig(partner: harness.syslogPartner)
        let gateway = try await harness.start()
        defer { gateway.signal(SIGKILL) }

        let initial = try await metricLines(harness)
        let text = initial.joined(separator: "\n")
        for family in [
            "alertgate_alerts_received_total", "alertgate_alerts_forwarded_total", "alertgate_alerts_failed_total",
            "alertgate_alerts_unmatched_total", "alertgate_spool_depth", "alertgate_connections", "alertgate_handshake_failures_total",
            "alertgate_validation_bypassed_total", "alertgate_certificate_not_after_seconds", "alertgate_reload_failures_total",
            "alertgate_reloads_total",
        ] {
            #expect(text.contains("# TYPE \(family) "), "\(family) is missing from the first scrape")
        }
        #expect(value(#"alertgate_alerts_forwarded_total{partner="siem"}"#, in: initial) == 0)
        #expect(value(#"alertgate_alerts_failed_total{partner="siem",reason="rejected"}"#, in: initial) == 0)
        #expect(value("alertgate_alerts_unmatched_total", in: initial) == 0)
        #expect(value("alertgate_reloads_total", in: initial) == 0)
        #expect(value("alertgate_reload_failures_total", in: initial) == 0)

        let response = try await harness.post("[" + (1...5).map { webhookAlert("depth", $0) }.joined(separator: ",") + "]")
        #expect(response.status == 202)

        // Status and /metrics agree on what waits for the partner.
        var queued = 0
        let agreed = try await eventually(timeout: .seconds(30)) {
            let status = try await harness.admin("/v1/status").body
            let object = try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any]
            let partner = (object?["partners"] as? [[String: Any]])?.first { $0["name"] as? String == "siem" }
            queued = partner?["queued"] as? Int ?? -1
            let depth = value(#"alertgate_spool_depth{partner="siem"}"#, in: try await metricLines(harness))
            return queued == 5 && depth == 5
        }
        let depthLines = try await metricLines(harness).filter { $0.contains("spool_depth") }
        #expect(agreed, "status queued \(queued); /metrics: \(depthLines)")

        // Retried sends are counted as retries; nothing failed for good.
        let retried = try await eventually(timeout: .seconds(30)) {
            let lines = try await metricLines(harness)
            return lines.contains { $0.hasPrefix(#"alertgate_alerts_retried_total{partner="siem""#) && (Double($0.split(separator: " ").last ?? "") ?? 0) >= 10 }
        }
        #expect(retried)
        let failed = try await metricLines(harness).filter { $0.hasPrefix("alertgate_alerts_failed_total{") }
        #expect(failed == [#"alertgate_alerts_failed_total{partner="siem",reason="rejected"} 0"#])

        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }
}
