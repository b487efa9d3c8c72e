import AlertGateTesting
import Foundation
import Testing

/// `alertgate run` under systemd's `Type=notify` (sd_notify(3)), with the test as systemd:
/// a Unix datagram socket named by `NOTIFY_SOCKET`.
@Suite(.serialized) struct SystemdNotifyTests {
    @Test func readyOnlyOnceListeningThenReloadingAroundASIGHUPWatchdogAtItsRateAndStoppingOnSIGTERM() async throws {
        let systemd = try NotifySocketReceiver()
        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.syslogPartner)
        let gateway = try RunningProcess(
            AlertGateBinary.path, ["run", "--config", harness.configFile.path], environment: systemd.environment(watchdog: .seconds(1)))

        let ready = try await systemd.wait(for: "READY", "1")
        // By READY=1 every listener accepts connections and the admin API answers.
        #expect(InteropPeers.canConnect(harness.ports.tcp))
        #expect(InteropPeers.canConnect(harness.ports.tls))
        #expect(InteropPeers.canConnect(harness.ports.webhook))
        #expect(try await harness.admin("/healthz").status == 200)
        #expect(ready.notification.fields["STATUS"]?.hasPrefix("running") == true, "\(ready.notification.fields)")
        #expect(gateway.standardError.contains("alertgate running"))

        // WatchdogSec=1s: a keep-alive every half second (four intervals between five).
        var last = ready.index
        var keepAlives: [ContinuousClock.Instant] = []
        while keepAlives.count < 5 {
            let next = try await systemd.wait(for: "WATCHDOG", "1", after: last + 1, timeout: .seconds(10))
            keepAlives.append(next.notification.receivedAt)
            last = next.index
        }
        let elapsed = keepAlives.last! - keepAlives.first!
        #expect(elapsed > .milliseconds(1900) && elapsed < .milliseconds(6000), "4 keep-alive intervals took \(elapsed)")

        // SIGHUP: RELOADING=1 with the monotonic time, then READY=1 saying it reloaded.
        gateway.signal(SIGHUP)
        let reloading = try await systemd.wait(for: "RELOADING", "1", after: last + 1)
        #expect(UInt64(reloading.notification.fields["MONOTONIC_USEC"] ?? "") ?? 0 > 0)
        let reloaded = try await systemd.wait(for: "READY", "1", after: reloading.index + 1)
        #expect(reloaded.notification.fields["STATUS"]?.contains("reloaded") == true, "\(reloaded.notification.fields)")

        // A reload of a broken config.yaml is refused, and STATUS says so.
        let good = try String(contentsOf: harness.configFile, encoding: .utf8)
        try (good + "\nnonsense: [\n").write(to: harness.configFile, atomically: true, encoding: .utf8)
        gateway.signal(SIGHUP)
        let second = try await systemd.wait(for: "RELOADING", "1", after: reloaded.index + 1)
        let refused = try await systemd.wait(for: "READY", "1", after: second.index + 1)
        #expect(refused.notification.fields["STATUS"]?.contains("reload refused") == true, "\(refused.notification.fields)")
        #expect(refused.notification.fields["STATUS"]?.contains("config.yaml") == true)

        gateway.signal(SIGTERM)
        _ = try await systemd.wait(for: "STOPPING", "1", after: refused.index + 1)
        #expect(try await gateway.waitForExit() == 0)
    }

    @Test func anEmptyNotifySocketIsIgnoredAndTheGatewayRunsAsBefore() async throws {
        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.syslogPartner)
        let gateway = try await harness.start(environment: ["NOTIFY_SOCKET": ""])
        #expect(try await harness.admin("/healthz").status == 200)
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }
}
