import AlertGateConfig
import AlertGateCore
import AlertGateListeners
import AlertGatePKI
import AlertGateTesting
import Foundation
import Testing

/// syslog-tls with `openssl s_client` as the sender: client certificates attributed by
/// CN and checked under the appliance's policy.
@Suite struct TLSListenerTests {
    typealias H = ListenerHarness

    static let sensor = H.appliance("sensor-7", cn: "sensor-7.contoso.com", validation: .required)

    /// `openssl s_client` to a listener, checking the gateway's certificate, presenting
    /// `certificate` when given.
    static func clientArguments(port: Int, pki: TestPKI, certificate: TestPKI.Issued? = nil, chain: URL? = nil) -> [String] {
        var arguments = ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", pki.rootCertificate.path, "-verify_return_error", "-quiet"]
        if let certificate {
            arguments += ["-cert", certificate.certificate.path, "-key", certificate.key.path, "-cert_chain", (chain ?? pki.chainFile).path]
        }
        return arguments
    }

    /// Sends `lines` and closes (`-no_ign_eof`: end of input ends the session).
    static func send(_ lines: [String], port: Int, pki: TestPKI, certificate: TestPKI.Issued? = nil, chain: URL? = nil) async throws -> ProcessRunner.Result {
        let arguments = clientArguments(port: port, pki: pki, certificate: certificate, chain: chain) + ["-no_ign_eof"]
        return try await ProcessRunner.captureDetached("/usr/bin/openssl", arguments, input: lines.map { $0 + "\n" }.joined(), timeout: 60)
    }

    /// A client that stays connected while its standard input is open (write to it with
    /// `RunningProcess.write`); it exits when the gateway closes the connection.
    static func connect(port: Int, pki: TestPKI, certificate: TestPKI.Issued? = nil) throws -> RunningProcess {
        try RunningProcess("/usr/bin/openssl", clientArguments(port: port, pki: pki, certificate: certificate))
    }

    @Test func aClientCertificateAttributesByCN() async throws {
        let harness = try await H(
            listeners: [H.listener("tls", .syslogTLS, clientAuth: .required)],
            appliances: [H.appliance("plant", source: "127.0.0.0/8"), Self.sensor])
        let client = try harness.pki.issue("sensor-7", commonName: "sensor-7.contoso.com")
        let result = try await Self.send([SyslogListenerTests.cef("Firmware change"), SyslogListenerTests.cef("PLC stop")], port: harness.port("tls"), pki: harness.pki, certificate: client)
        let stored = try await harness.intake.waitForStored(2)
        #expect(stored.map(\.title) == ["Firmware change", "PLC stop"], "\(result.standardError)")
        // The CN wins over the source address, which matches "plant" too.
        #expect(stored.allSatisfy { $0.appliance == "sensor-7" })
        await harness.listeners.stop()
    }

    @Test func withoutACertificateOptionalAttributesBySourceAndRequiredRefuses() async throws {
        let harness = try await H(
            listeners: [
                H.listener("optional", .syslogTLS, clientAuth: .optional),
                H.listener("required", .syslogTLS, clientAuth: .required, defaultAppliance: "plant"),
            ],
            appliances: [H.appliance("plant", source: "127.0.0.1/32", validation: .none), Self.sensor])
        _ = try await Self.send([SyslogListenerTests.cef("Anonymous sender")], port: harness.port("optional"), pki: harness.pki)
        let stored = try await harness.intake.waitForStored(1)
        #expect(stored.map(\.title) == ["Anonymous sender"])
        #expect(stored.map(\.appliance) == ["plant"])

        let refused = try await Self.send([SyslogListenerTests.cef("Never stored")], port: harness.port("required"), pki: harness.pki)
        #expect(try await harness.waitForCounter("alertgate_ingest_errors_total", [("listener", "required"), ("reason", "handshake")], atLeast: 1) == 1, "\(refused.standardError)")
        #expect(await harness.intake.stored.map(\.title) == ["Anonymous sender"])
        await harness.listeners.stop()
    }

    /// docs/reference.md §11: `client_auth: optional` is no way past an appliance's `required`: a client
    /// without a certificate that its address attributes to such an appliance is refused
    /// like a failed check (logged, counted), and nothing it sent is stored.
    @Test func withoutACertificateAnApplianceUnderRequiredRefusesTheClient() async throws {
        let harness = try await H(
            listeners: [H.listener("optional", .syslogTLS, clientAuth: .optional), H.listener("hooks", .webhook, clientAuth: .none, path: "/alerts")],
            appliances: [H.appliance("plant", source: "127.0.0.1/32", validation: .required), Self.sensor])
        let refused = try await Self.send([SyslogListenerTests.cef("Never stored")], port: harness.port("optional"), pki: harness.pki)
        #expect(try await harness.waitForCounter(
            "alertgate_handshake_failures_total", [("appliance", "plant"), ("partner", "listener:optional"), ("check", "chain")], atLeast: 1) == 1,
            "\(refused.standardError)")
        #expect(!refused.standardOutput.contains("Never stored"))

        // The webhook likewise: no answer, nothing stored.
        let body = #"{"title": "Never stored either", "severity": "major"}"#
        let posted = try await Self.send([ListenerReloadTests.postHead(contentLength: body.utf8.count) + body], port: harness.port("hooks"), pki: harness.pki)
        #expect(try await harness.waitForCounter(
            "alertgate_handshake_failures_total", [("appliance", "plant"), ("partner", "listener:hooks"), ("check", "chain")], atLeast: 1) == 1)
        #expect(!posted.standardOutput.contains("accepted"), "\(posted.standardOutput)")

        // A sensor with its certificate still gets through the same listener.
        let client = try harness.pki.issue("sensor-7", commonName: "sensor-7.contoso.com")
        _ = try await Self.send([SyslogListenerTests.cef("With a certificate")], port: harness.port("optional"), pki: harness.pki, certificate: client)
        let stored = try await harness.intake.waitForStored(1)
        #expect(stored.map(\.title) == ["With a certificate"])
        #expect(await harness.intake.offered.count == 1)
        await harness.listeners.stop()
    }

    @Test func anotherCAsCertificateIsRefusedUnderRequiredAndCountedUnderNone() async throws {
        let harness = try await H(
            listeners: [H.listener("tls", .syslogTLS, clientAuth: .optional)],
            appliances: [Self.sensor, H.appliance("lax", cn: "lax-sensor.contoso.com", validation: .none)])
        let rogue = try TestPKI(name: "Rogue")
        let strict = try rogue.issue("sensor-7", commonName: "sensor-7.contoso.com")
        let lax = try rogue.issue("lax", commonName: "lax-sensor.contoso.com")

        _ = try await Self.send([SyslogListenerTests.cef("From the rogue CA")], port: harness.port("tls"), pki: harness.pki, certificate: strict, chain: rogue.chainFile)
        #expect(try await harness.waitForCounter("alertgate_handshake_failures_total", [("appliance", "sensor-7"), ("partner", "listener:tls"), ("check", "chain")], atLeast: 1) == 1)

        _ = try await Self.send([SyslogListenerTests.cef("Let through")], port: harness.port("tls"), pki: harness.pki, certificate: lax, chain: rogue.chainFile)
        let stored = try await harness.intake.waitForStored(1)
        #expect(stored.map(\.title) == ["Let through"])
        #expect(stored.map(\.appliance) == ["lax"])
        #expect(harness.counter("alertgate_validation_bypassed_total", [("appliance", "lax"), ("partner", "listener:tls"), ("check", "chain")]) == 1)
        await harness.listeners.stop()
    }

    @Test func aCertificateMatchingNoApplianceIsRefused() async throws {
        let harness = try await H(
            listeners: [H.listener("tls", .syslogTLS, clientAuth: .required)],
            appliances: [Self.sensor, H.appliance("elsewhere", source: "10.0.0.0/8")])
        let stranger = try harness.pki.issue("stranger", commonName: "stranger.contoso.com")
        _ = try await Self.send([SyslogListenerTests.cef("Unknown sender")], port: harness.port("tls"), pki: harness.pki, certificate: stranger)
        #expect(try await harness.waitForCounter("alertgate_ingest_errors_total", [("listener", "tls"), ("reason", "unattributed")], atLeast: 1) == 1)
        #expect(await harness.intake.offered.isEmpty)
        await harness.listeners.stop()
    }

    @Test func aReloadedStoreServesNewConnectionsWithItsCertificate() async throws {
        let (listeners, appliances) = ([H.listener("tls", .syslogTLS)], [H.appliance("plant", source: "127.0.0.0/8", validation: .none)])
        let harness = try await H(listeners: listeners, appliances: appliances)
        let before = try await Self.send([SyslogListenerTests.cef("Before the reload")], port: harness.port("tls"), pki: harness.pki)
        #expect(before.standardError.contains("CN = gateway.contoso.com"), "\(before.standardError)")

        try await harness.reload(listeners: listeners, appliances: appliances, store: try await H.store(pki: harness.pki, serverName: "gateway-2.contoso.com"))
        let after = try await Self.send([SyslogListenerTests.cef("After the reload")], port: harness.port("tls"), pki: harness.pki)
        #expect(after.standardError.contains("CN = gateway-2.contoso.com"), "\(after.standardError)")

        // A store without the listener's certificate is refused whole; the current one stays.
        let empty = await CertificateStore.load(entries: [], trust: [], crlSource: nil)
        await #expect(throws: ListenerError.self) { try await harness.reload(listeners: listeners, appliances: appliances, store: empty) }
        let still = try await Self.send([SyslogListenerTests.cef("After a failed reload")], port: harness.port("tls"), pki: harness.pki)
        #expect(still.standardError.contains("CN = gateway-2.contoso.com"), "\(still.standardError)")

        let stored = try await harness.intake.waitForStored(3)
        #expect(Set(stored.map(\.title)) == ["Before the reload", "After the reload", "After a failed reload"])
        await harness.listeners.stop()
    }
}
