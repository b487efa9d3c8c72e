import AlertGateTesting
import Foundation
import Testing

/// `store.watch` changed by a reload takes effect at that reload.
@Suite(.serialized) struct WatchToggleTests {
    func count(_ text: String, in gateway: RunningProcess) -> Int {
        gateway.standardError.components(separatedBy: text).count - 1
    }

    @Test func aReloadThatTurnsWatchOnStartsTheWatcherAndOneThatTurnsItOffStopsIt() async throws {
        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.syslogPartner, watch: false)
        let gateway = try await harness.start()
        defer { gateway.signal(SIGKILL) }
        try await gateway.waitForOutput(containing: "store.watch is off")

        // Turned on by a reload: from then on a changed file reloads.
        try harness.writeConfig(partner: harness.syslogPartner, watch: true)
        #expect(try await harness.admin("/v1/reload", method: "POST").status == 200)
        try await gateway.waitForOutput(containing: "store.watch: watching config.yaml")
        try harness.writeConfig(partner: harness.syslogPartner, watch: true, crlMaxAge: "2h")
        try await gateway.waitForOutput(containing: "reason=\"file change\"", timeout: .seconds(30))

        // Turned off by that very file: the watcher stops.
        let offBefore = count("store.watch is off", in: gateway)
        try harness.writeConfig(partner: harness.syslogPartner, watch: false)
        #expect(await eventually(timeout: .seconds(30)) { count("store.watch is off", in: gateway) == offBefore + 1 }, "\(gateway.standardError)")

        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }

    @Test func runHelpSaysWhatAReloadDoes() throws {
        let result = try AlertGateBinary.run(["run", "--help"])
        #expect(result.status == 0)
        let help = result.standardOutput
        #expect(help.contains("SIGHUP reloads"))
        for part in ["config.yaml", "certificate", "listeners", "forwarding rules"] {
            #expect(help.contains(part), "\(part) missing from: \(help)")
        }
        #expect(!help.contains("re-checks the certificates"))
    }
}
