import AlertGateTesting
import Foundation
import Testing

/// `alertgate run` when an address it must listen on is taken (docs/reference.md §3: exit 1, naming it).
@Suite(.serialized) struct StartupFailureTests {
    /// Another process (`openssl s_server`) holds an address before the gateway starts.
    func holdPort(_ port: Int, _ gateway: GatewayHarness) async throws -> RunningProcess {
        let holder = try RunningProcess("/usr/bin/openssl", [
            "s_server", "-accept", "127.0.0.1:\(port)", "-cert", gateway.partnerChain.path, "-key", gateway.partnerKey.path,
        ])
        try await holder.waitForOutput(containing: "ACCEPT")
        return holder
    }

    @Test func aListenerAddressInUseEndsTheStartWithExitOneNamingIt() async throws {
        let gateway = try GatewayHarness()
        // With a partner configured: its dispatcher must not keep the process alive.
        try gateway.writeConfig(partner: gateway.syslogPartner)
        let holder = try await holdPort(gateway.ports.tcp, gateway)
        defer { holder.signal(SIGTERM) }

        let process = try RunningProcess(AlertGateBinary.path, ["run", "--config", gateway.configFile.path])
        #expect(try await process.waitForExit(timeout: .seconds(60)) == 1, "\(process.standardError)")
        let log = process.standardError
        #expect(log.contains("listener in-tcp: cannot listen on 127.0.0.1:\(gateway.ports.tcp)"), "\(log)")
        #expect(log.contains("not starting"))
        #expect(!log.contains("alertgate running"))
    }

    @Test func anAdminAddressInUseEndsTheStartWithExitOneNamingIt() async throws {
        let gateway = try GatewayHarness()
        try gateway.writeConfig(partner: gateway.syslogPartner)
        let holder = try await holdPort(gateway.ports.admin, gateway)
        defer { holder.signal(SIGTERM) }

        let process = try RunningProcess(AlertGateBinary.path, ["run", "--config", gateway.configFile.path])
        #expect(try await process.waitForExit(timeout: .seconds(60)) == 1, "\(process.standardError)")
        #expect(process.standardError.contains("gateway.admin: cannot listen on 127.0.0.1:\(gateway.ports.admin)"), "\(process.standardError)")
    }
}
