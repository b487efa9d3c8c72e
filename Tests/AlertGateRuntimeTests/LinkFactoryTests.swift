import AlertGateConfig
import AlertGateCore
import AlertGatePKI
import AlertGateRuntime
import AlertGateTesting
import Foundation
import Logging
import MetricsTestKit
import SyslogTLSTransport
import Testing

/// Links built from a config, as `run` builds them: the appliance's certificate, the
/// partner's trust and name, the policy — and what policy `none` logs and counts.
@Suite struct LinkFactoryTests {
    let pki: TestPKI
    let folder: URL

    init() throws {
        pki = try TestPKI()
        folder = try pki.gatewayFolder()
    }

    func factory(port: Int, validation: ValidationPolicy, metrics: TestMetrics, trustCRL: String? = nil) async throws -> LinkFactory {
        let path = folder.appendingPathComponent("config.yaml")
        try """
            store:
              dir: certs
              trust: [{ name: corp, file: chain.pem\(trustCRL.map { ", crl: \($0)" } ?? "") }]
              certificates:
                - { name: sensor-1, cert: sensor-1.crt, key: sensor-1.key, chain: chain.pem }
            appliances:
              - { name: sensor-1, kind: sensor, certificate: sensor-1, validation: \(validation.rawValue) }
            partners:
              - { name: qradar, transport: syslog-tls, endpoint: "127.0.0.1:\(port)", server_name: siem.contoso.com, trust: corp, format: leef }

            """.write(to: path, atomically: true, encoding: .utf8)
        let loaded = try await ConfigValidation(path: path.path, knownTransports: ["syslog-tls"]).run(selfSigned: .readOnly).get()
        #expect(loaded.store.diagnostics.isEmpty, "\(loaded.store.diagnostics)")
        return LinkFactory(
            config: loaded.config, store: loaded.store.store, registry: TransportRegistry([SyslogTLSTransport()]),
            crlSource: loaded.loader.crlCache, logger: Logger(label: "test"), metrics: metrics)
    }

    func wrongNamePartner() async throws -> OpenSSLServer {
        let issued = try pki.issue("partner", commonName: "other.contoso.com")
        return try await OpenSSLServer(certificate: issued.certificate, key: issued.key, chain: pki.chainFile, clientCA: pki.rootCertificate, mode: .sink)
    }

    let alert = Alert(id: "a-1", receivedAt: Date(), severity: .critical, title: "Malware detected", appliance: "sensor-1")

    @Test func noneDeliversThroughAFailedCheckAndCountsIt() async throws {
        let server = try await wrongNamePartner()
        let metrics = TestMetrics()
        let (link, plugin) = try await factory(port: server.port, validation: .none, metrics: metrics).link(appliance: "sensor-1", partner: "qradar")
        let sender = plugin.makeSender(for: link)
        let report = await sender.send([alert])
        await sender.close()
        #expect(report.outcome == .delivered)
        #expect(server.syslogFrames.first?.contains("LEEF:1.0|Microsoft Defender for IoT|") == true)
        let counter = try metrics.expectCounter("alertgate_validation_bypassed_total", [("appliance", "sensor-1"), ("partner", "qradar"), ("check", "name-mismatch")])
        #expect(counter.totalValue == 1)
    }

    @Test func requiredRefusesAndCountsTheHandshakeFailure() async throws {
        let server = try await wrongNamePartner()
        let metrics = TestMetrics()
        let (link, plugin) = try await factory(port: server.port, validation: .required, metrics: metrics).link(appliance: "sensor-1", partner: "qradar")
        let sender = plugin.makeSender(for: link)
        let report = await sender.send([alert])
        guard case .retry(_, let reason) = report.outcome else {
            Issue.record("expected a retry, got \(report.outcome)")
            return
        }
        #expect(report.accepted == 0)
        #expect(reason.check == "name-mismatch")
        #expect(reason.message.hasPrefix("The certificate does not match the expected name siem.contoso.com: it holds CN=other.contoso.com"))
        #expect(server.syslogFrames.isEmpty)
        let counter = try metrics.expectCounter("alertgate_handshake_failures_total", [("appliance", "sensor-1"), ("partner", "qradar"), ("check", "name-mismatch")])
        #expect(counter.totalValue == 1)
    }

    // MARK: A trust bundle's crl: file

    /// A partner certificate without a CRL distribution point, and the CA's CRL written to
    /// `certs/corp.crl.pem`, after revoking the partner if `revoked`.
    func partnerWithoutDistributionPoint(revoked: Bool) async throws -> OpenSSLServer {
        let partner = try pki.issue("partner", commonName: "siem.contoso.com")
        if revoked { try pki.revoke(partner) }
        try pki.writeCRL(to: folder.appendingPathComponent("certs/corp.crl.pem"), format: .pem)
        return try await OpenSSLServer(certificate: partner.certificate, key: partner.key, chain: pki.chainFile, clientCA: pki.rootCertificate, mode: .sink)
    }

    @Test func requiredRefusesAPartnerRevokedByTheTrustBundlesCRLFile() async throws {
        let server = try await partnerWithoutDistributionPoint(revoked: true)
        let metrics = TestMetrics()
        let (link, plugin) = try await factory(port: server.port, validation: .required, metrics: metrics, trustCRL: "corp.crl.pem")
            .link(appliance: "sensor-1", partner: "qradar")
        let sender = plugin.makeSender(for: link)
        let report = await sender.send([alert])
        guard case .retry(_, let reason) = report.outcome else {
            Issue.record("expected a retry, got \(report.outcome)")
            return
        }
        #expect(reason.check == "revoked")
        #expect(reason.message.hasPrefix("This certificate has been revoked by the CRL and can't be trusted for a secure connection"))
        // The detail names the CRL file, where a fetched CRL names its URL.
        #expect(reason.message.contains("CN=siem.contoso.com"))
        #expect(reason.message.contains("is listed by \(folder.appendingPathComponent("certs/corp.crl.pem").path)"))
        #expect(server.syslogFrames.isEmpty)
        let counter = try metrics.expectCounter("alertgate_handshake_failures_total", [("appliance", "sensor-1"), ("partner", "qradar"), ("check", "revoked")])
        #expect(counter.totalValue == 1)
    }

    @Test func requiredDeliversToAPartnerTheCRLFileDoesNotList() async throws {
        let server = try await partnerWithoutDistributionPoint(revoked: false)
        let (link, plugin) = try await factory(port: server.port, validation: .required, metrics: TestMetrics(), trustCRL: "corp.crl.pem")
            .link(appliance: "sensor-1", partner: "qradar")
        let sender = plugin.makeSender(for: link)
        let report = await sender.send([alert])
        await sender.close()
        #expect(report.outcome == .delivered)
        #expect(server.syslogFrames.count == 1)
    }

    @Test func aCRLFileOfAnotherCAIsReportedAtItsConfigLine() async throws {
        let other = try TestPKI(name: "Other")
        try other.writeCRL(to: folder.appendingPathComponent("certs/other.crl.pem"), format: .pem)
        let path = folder.appendingPathComponent("config.yaml")
        try """
            store:
              dir: certs
              trust:
                - name: corp
                  file: chain.pem
                  crl: other.crl.pem

            """.write(to: path, atomically: true, encoding: .utf8)
        let loaded = try await ConfigValidation(path: path.path, knownTransports: ["syslog-tls"]).run(selfSigned: .readOnly).get()
        let rendered = loaded.store.diagnostics.map { $0.rendered(path: "config.yaml") }
        let crlPath = folder.appendingPathComponent("certs/other.crl.pem").path
        #expect(rendered == ["config.yaml:6:12: trust corp: \(crlPath): the CRL issued by C=US, O=Other PKI, CN=Other Issuing CA is not from a CA of this bundle (\(folder.appendingPathComponent("certs/chain.pem").path))"])
    }

    @Test func anUnknownPartnerOrApplianceIsNamed() async throws {
        let factory = try await factory(port: 9, validation: .required, metrics: TestMetrics())
        let partner = #expect(throws: LinkFactory.Failure.self) { try factory.link(appliance: "sensor-1", partner: "splunk") }
        #expect(partner?.description.contains("no partner named \"splunk\"") == true)
        let appliance = #expect(throws: LinkFactory.Failure.self) { try factory.link(appliance: "sensor-9", partner: "qradar") }
        #expect(appliance?.description.contains("no appliance named \"sensor-9\"") == true)
    }
}

/// The syslog-tls promise: an alert counts as delivered only once the partner's TCP stack
/// acknowledged it; when the connection dies, the unacknowledged rest comes back to be sent
/// again, and nothing is lost.
@Suite struct SyslogAcknowledgementTests {
    @Test func aPartnerThatStopsReadingGetsTheUnacknowledgedTailAgain() async throws {
        let suite = try LinkFactoryTests()
        let partner = try suite.pki.issue("partner", commonName: "siem.contoso.com")
        let stalling = try await StallingTLSReceiver(certificate: partner.certificate, key: partner.key, clientCA: suite.pki.rootCertificate, readBytes: 20_000)
        let (link, plugin) = try await suite.factory(port: stalling.port, validation: .required, metrics: TestMetrics())
            .link(appliance: "sensor-1", partner: "qradar")
        let sender = plugin.makeSender(for: link)
        // About 3 MiB: far more than the stalled receiver's buffers hold.
        let alerts = (1...10_000).map { Alert(id: "seq=\($0)", receivedAt: Date(), severity: .minor, title: String(repeating: "x", count: 250), appliance: "sensor-1") }

        async let report = sender.send(alerts)
        try await stalling.waitUntilStalled()
        try await Task.sleep(for: .milliseconds(300))
        try stalling.drop()
        let outcome = await report
        guard case .retry = outcome.outcome else {
            Issue.record("a send into a dead connection must come back for a retry, got \(outcome.outcome)")
            return
        }
        #expect(outcome.accepted > 0, "the acknowledged head counts as delivered")
        #expect(outcome.accepted < alerts.count, "the unacknowledged tail is handed back")

        // The tail goes again, to a partner that reads: with the head, every alert arrives.
        let healthy = try await OpenSSLServer(certificate: partner.certificate, key: partner.key, chain: suite.pki.chainFile, clientCA: suite.pki.rootCertificate, mode: .sink)
        let (retryLink, _) = try await suite.factory(port: healthy.port, validation: .required, metrics: TestMetrics()).link(appliance: "sensor-1", partner: "qradar")
        let retrySender = plugin.makeSender(for: retryLink)
        let second = await retrySender.send(Array(alerts[outcome.accepted...]))
        await retrySender.close()
        #expect(second.outcome == .delivered)
        let readByStalled = Set(SyslogFrameScanner.frames(in: stalling.received).compactMap(Self.id))
        let acknowledged = Set(alerts[..<outcome.accepted].map(\.id))
        let resent = Set(healthy.syslogFrames.compactMap(Self.id))
        #expect(!readByStalled.isEmpty)
        // Acknowledgement is tracked per chunk of about one TLS record (16 KiB, ~60 of these
        // alerts): of what the stalled partner read, at most one chunk is sent again.
        #expect(readByStalled.subtracting(acknowledged).count <= 64)
        // Nothing lost: every alert was acknowledged by the partner's TCP stack or resent.
        #expect(resent == Set(alerts[outcome.accepted...].map(\.id)))
        #expect(acknowledged.union(resent) == Set(alerts.map(\.id)))
    }

    static func id(_ frame: String) -> String? {
        guard let start = frame.range(of: "id=\"")?.upperBound, let end = frame[start...].firstIndex(of: "\"") else { return nil }
        return String(frame[start..<end])
    }
}

@Suite struct ConfigRulesTests {
    @Test func theShippedConfigsRulesRouteByApplianceSeverityAndProtocol() throws {
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("config.yaml")
        let config = try ConfigLoader(knownTransports: ["syslog-tls", "http2"]).load(path: shipped.path).get()
        let rules = ForwardingRules(config)
        let major = Alert(id: "1", receivedAt: Date(), severity: .major, title: "t", protocolName: "S7COMM", engine: "policy", appliance: "sensor-1")
        let minor = Alert(id: "2", receivedAt: Date(), severity: .minor, title: "t", protocolName: "S7COMM", engine: "policy", appliance: "sensor-1")
        #expect(rules.partners(for: major) == ["local-siem", "local-hec"])
        #expect(rules.partners(for: minor) == ["local-siem"])
    }
}
