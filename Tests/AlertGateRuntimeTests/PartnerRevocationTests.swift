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

/// Revocation of partners against real peers (`openssl s_server`, the Python recording
/// receiver), CRLs served over HTTP, certificates made at test time: only the chain
/// OpenSSL built is checked, within one time limit and a cap on URLs; CRL locations that
/// point at link-local addresses or the admin API are refused; a connection whose partner
/// a newer CRL revokes gets nothing more, and one nothing happened to stays open.
@Suite struct PartnerRevocationTests {
    let pki: TestPKI
    let folder: URL
    let published: URL
    let crlServer: FileHTTPServer

    init() async throws {
        pki = try TestPKI()
        folder = try pki.gatewayFolder()
        published = pki.directory.appendingPathComponent("crl-www")
        try FileManager.default.createDirectory(at: published, withIntermediateDirectories: true)
        crlServer = try await FileHTTPServer(directory: published)
        try pki.writeCRL(to: published.appendingPathComponent("ca.crl"))
    }

    /// The links of a config with partners `qradar` (and `arcsight`) on `ports`, and the
    /// CRL cache they share.
    func links(
        ports: [Int], validation: ValidationPolicy = .required, crlTimeout: String = "5s", metrics: TestMetrics = TestMetrics(),
        connections: PartnerConnections? = nil
    ) async throws -> (LinkFactory, CRLCache) {
        let names = ["qradar", "arcsight"]
        let partners = zip(names, ports).map { name, port in
            "  - { name: \(name), transport: syslog-tls, endpoint: \"127.0.0.1:\(port)\", server_name: siem.contoso.com, trust: corp, format: leef }"
        }.joined(separator: "\n")
        let path = folder.appendingPathComponent("config.yaml")
        try """
            store:
              dir: certs
              crl: { timeout: \(crlTimeout) }
              trust: [{ name: corp, file: chain.pem }]
              certificates:
                - { name: sensor-1, cert: sensor-1.crt, key: sensor-1.key, chain: chain.pem }
            appliances:
              - { name: sensor-1, kind: sensor, certificate: sensor-1, validation: \(validation.rawValue) }
            partners:
            \(partners)

            """.write(to: path, atomically: true, encoding: .utf8)
        let loaded = try await ConfigValidation(path: path.path, knownTransports: ["syslog-tls"]).run(selfSigned: .readOnly).get()
        #expect(loaded.store.diagnostics.isEmpty, "\(loaded.store.diagnostics)")
        let factory = LinkFactory(
            config: loaded.config, store: loaded.store.store, registry: TransportRegistry([SyslogTLSTransport()]),
            crlSource: loaded.loader.crlCache, logger: Logger(label: "test"), metrics: metrics, connections: connections)
        return (factory, loaded.loader.crlCache)
    }

    func partner(_ name: String, crlURLs: [String]) throws -> TestPKI.Issued {
        var options = TestPKI.Options(commonName: "siem.contoso.com")
        options.crlURL = crlURLs.first
        options.moreCRLURLs = Array(crlURLs.dropFirst())
        return try pki.issue(name, options)
    }

    func sink(_ partner: TestPKI.Issued, chain: URL? = nil) async throws -> OpenSSLServer {
        try await OpenSSLServer(certificate: partner.certificate, key: partner.key, chain: chain ?? pki.chainFile, clientCA: pki.rootCertificate, mode: .sink)
    }

    func alert(_ title: String) -> Alert {
        Alert(id: title, receivedAt: Date(), severity: .critical, title: title, appliance: "sensor-1")
    }

    func retryReason(_ report: DeliveryReport) -> TransportError? {
        if case .retry(_, let reason) = report.outcome { return reason }
        return nil
    }

    // MARK: The revocation generation

    @Test func nothingIsWrittenToAPartnerOnceTheGatewayHoldsACRLThatRevokesIt() async throws {
        let crlURL = crlServer.url(for: "ca.crl")
        let partner = try partner("partner", crlURLs: [crlURL])
        let server = try await sink(partner)
        let (factory, cache) = try await links(ports: [server.port])
        let (link, plugin) = try factory.link(appliance: "sensor-1", partner: "qradar")
        let sender = plugin.makeSender(for: link)
        #expect(await sender.send([alert("before-revocation")]).outcome == .delivered)

        // The CA revokes the partner, and the gateway's cache fetches the new CRL (what a
        // CRL refresh does first); the open connection was checked with the old one.
        try pki.revoke(partner)
        try pki.writeCRL(to: published.appendingPathComponent("ca.crl"))
        let before = cache.generation
        try await cache.refresh(crlURL)
        #expect(cache.generation > before)

        let report = await sender.send([alert("marker-after-revocation")])
        await sender.close()
        #expect(report.accepted == 0)
        #expect(retryReason(report)?.check == "revoked", "\(report.outcome)")
        #expect(server.syslogFrames.contains { $0.contains("before-revocation") })
        #expect(!server.syslogFrames.contains { $0.contains("marker-after-revocation") }, "\(server.syslogFrames)")
    }

    // MARK: A CRL refresh checks open connections one by one

    @Test func aRefreshClosesTheRevokedPartnersConnectionAndKeepsTheOther() async throws {
        let crlURL = crlServer.url(for: "ca.crl")
        let kept = try partner("kept", crlURLs: [crlURL])
        let revoked = try partner("revoked", crlURLs: [crlURL])
        func receiver(_ issued: TestPKI.Issued) async throws -> RecordingTLSReceiver {
            let chain = pki.directory.appendingPathComponent("\(issued.commonName)-\(UUID().uuidString).pem")
            try (String(contentsOf: issued.certificate, encoding: .utf8) + String(contentsOf: pki.chainFile, encoding: .utf8))
                .write(to: chain, atomically: true, encoding: .utf8)
            return try await RecordingTLSReceiver(certificate: chain, key: issued.key, clientCA: pki.chainFile)
        }
        let keptReceiver = try await receiver(kept)
        let revokedReceiver = try await receiver(revoked)
        let connections = PartnerConnections()
        let (factory, cache) = try await links(ports: [keptReceiver.port, revokedReceiver.port], connections: connections)
        let senders = try ["qradar", "arcsight"].map { name in
            let (link, plugin) = try factory.link(appliance: "sensor-1", partner: name)
            return plugin.makeSender(for: link)
        }
        for (index, sender) in senders.enumerated() {
            #expect(await sender.send([alert("first-\(index)")]).outcome == .delivered)
        }
        #expect(connections.count == 2)

        // A refresh with nothing new: both stay.
        try await cache.refresh(crlURL)
        #expect(await connections.recheckAll { factory.peerPolicy(appliance: $0, partner: $1) } == 0)

        try pki.revoke(revoked)
        try pki.writeCRL(to: published.appendingPathComponent("ca.crl"))
        try await cache.refresh(crlURL)
        #expect(await connections.recheckAll { factory.peerPolicy(appliance: $0, partner: $1) } == 1)
        #expect(await eventually { revokedReceiver.closedConnections.count == 1 }, "the revoked partner's connection stayed open")

        #expect(await senders[0].send([alert("second-0")]).outcome == .delivered)
        #expect(await eventually { keptReceiver.messages.count == 2 })
        #expect(keptReceiver.connections.count == 1, "the partner nothing happened to was reconnected: \(keptReceiver.connections)")
        #expect(keptReceiver.closedConnections.isEmpty)
        let refused = await senders[1].send([alert("second-1")])
        #expect(retryReason(refused)?.check == "revoked", "\(refused.outcome)")
        #expect(revokedReceiver.messages.map(\.text).allSatisfy { !$0.contains("second-1") })
        for sender in senders { await sender.close() }
    }

    @Test func underNoneARevokedPartnerKeepsItsConnectionAndTheBypassIsCountedOnce() async throws {
        let crlURL = crlServer.url(for: "ca.crl")
        let partner = try partner("partner", crlURLs: [crlURL])
        let server = try await sink(partner)
        let metrics = TestMetrics()
        let connections = PartnerConnections()
        let (factory, cache) = try await links(ports: [server.port], validation: .none, metrics: metrics, connections: connections)
        let (link, plugin) = try factory.link(appliance: "sensor-1", partner: "qradar")
        let sender = plugin.makeSender(for: link)
        #expect(await sender.send([alert("before-revocation")]).outcome == .delivered)

        try pki.revoke(partner)
        try pki.writeCRL(to: published.appendingPathComponent("ca.crl"))
        try await cache.refresh(crlURL)
        // Two refreshes: the connection stays, the failed check is counted (and logged) once.
        #expect(await connections.recheckAll { factory.peerPolicy(appliance: $0, partner: $1) } == 0)
        #expect(await connections.recheckAll { factory.peerPolicy(appliance: $0, partner: $1) } == 0)
        #expect(await sender.send([alert("after-revocation")]).outcome == .delivered)
        await sender.close()
        #expect(server.syslogFrames.contains { $0.contains("after-revocation") })
        let bypassed = try metrics.expectCounter("alertgate_validation_bypassed_total", [("appliance", "sensor-1"), ("partner", "qradar"), ("check", "revoked")])
        #expect(bypassed.totalValue == 1)
    }

    // MARK: Only the chain OpenSSL built

    @Test func aCertificateThePartnerSendsAlongOutsideItsChainMakesNoFetch() async throws {
        let partner = try partner("partner", crlURLs: [crlServer.url(for: "ca.crl")])
        // An unrelated certificate (of the same CA, not on the partner's path) whose CRL
        // location the gateway must not visit.
        let stray = try self.partner("stray", crlURLs: [crlServer.url(for: "stray.crl")])
        let presented = pki.directory.appendingPathComponent("presented-chain.pem")
        try (String(contentsOf: pki.chainFile, encoding: .utf8) + String(contentsOf: stray.certificate, encoding: .utf8))
            .write(to: presented, atomically: true, encoding: .utf8)
        let server = try await sink(partner, chain: presented)
        let (factory, _) = try await links(ports: [server.port])
        let (link, plugin) = try factory.link(appliance: "sensor-1", partner: "qradar")
        let sender = plugin.makeSender(for: link)
        let report = await sender.send([alert("delivered-past-the-stray")])
        await sender.close()
        #expect(report.outcome == .delivered)
        #expect(await eventually { server.syslogFrames.contains { $0.contains("delivered-past-the-stray") } })
        #expect(crlServer.requests(for: "ca.crl") >= 1, "the partner's own CRL was not checked")
        #expect(crlServer.requests(for: "stray.crl") == 0, "the gateway fetched the CRL of a certificate outside the verified chain")
    }

    // MARK: Caps

    @Test func twoSilentCRLServersCostOneTimeoutNotTwo() async throws {
        let first = try await SilentTCPServer()
        let second = try await SilentTCPServer()
        let partner = try partner("partner", crlURLs: [first.url(for: "a.crl"), second.url(for: "b.crl")])
        let server = try await sink(partner)
        let (factory, _) = try await links(ports: [server.port], crlTimeout: "6s")
        let (link, plugin) = try factory.link(appliance: "sensor-1", partner: "qradar")
        let sender = plugin.makeSender(for: link)
        let report = await sender.send([alert("never-sent")])
        #expect(retryReason(report)?.check == "crl-unreachable", "\(report.outcome)")
        // Both were asked at once: one after the other, the second would have been asked
        // only once the first had used up its timeout (6 s, long enough that a loaded
        // machine's late start of the second fetch cannot look like it).
        #expect(first.connectionsAccepted == 1 && second.connectionsAccepted == 1)
        let asked = (first.acceptedAt + second.acceptedAt).sorted()
        if asked.count == 2 {
            #expect(asked[1] - asked[0] < .seconds(3), "the second CRL server was asked \(asked[1] - asked[0]) after the first")
        }
        #expect(server.syslogFrames.isEmpty)
        try await first.stop()
        try await second.stop()
    }

    @Test func aChainNamingMoreThanFourCRLLocationsIsRefusedWithoutAFetch() async throws {
        let urls = (1...5).map { crlServer.url(for: "point-\($0).crl") }
        let partner = try partner("partner", crlURLs: urls)
        let server = try await sink(partner)
        let (factory, _) = try await links(ports: [server.port])
        let (link, plugin) = try factory.link(appliance: "sensor-1", partner: "qradar")
        let sender = plugin.makeSender(for: link)
        let report = await sender.send([alert("never-sent")])
        let reason = retryReason(report)
        #expect(reason?.check == "crl-unreachable", "\(report.outcome)")
        #expect(reason?.message.contains("the chain names 5 CRL locations; at most 4 are fetched for one peer") == true, "\(reason?.message ?? "")")
        #expect(crlServer.totalRequests == 0)
        #expect(server.syslogFrames.isEmpty)
    }

    // MARK: Refused CRL locations

    @Test func storeCertificatesWhoseCRLPointsAtTheAdminAPIOrALinkLocalAddressAreRefusedWithoutARequest() async throws {
        // The admin API's address is the recording server's: a request would show there.
        let certs = folder.appendingPathComponent("certs")
        let targets = [
            ("admin", "http://127.0.0.1:\(crlServer.port)/v1/reload", "is the gateway's admin API (gateway.admin)"),
            ("localhost-admin", "http://localhost:\(crlServer.port)/v1/reload", "is the gateway's admin API (gateway.admin)"),
            ("metadata", "http://169.254.169.254/latest/meta-data/ca.crl", "169.254.169.254 is a link-local address"),
            ("link-local-v6", "http://[fe80::1]/ca.crl", "is a link-local address"),
            ("unspecified", "http://0.0.0.0:\(crlServer.port)/ca.crl", "0.0.0.0 is the unspecified address"),
        ]
        var entries = ""
        for (name, url, _) in targets {
            let issued = try pki.issue(name, commonName: "\(name).contoso.com", crlURL: url)
            try FileManager.default.copyItem(at: issued.certificate, to: certs.appendingPathComponent("\(name).crt"))
            try FileManager.default.copyItem(at: issued.key, to: certs.appendingPathComponent("\(name).key"))
            entries += "    - { name: \(name), cert: \(name).crt, key: \(name).key, chain: chain.pem, use_crl: true }\n"
        }
        let path = folder.appendingPathComponent("config.yaml")
        try """
            gateway:
              admin: "127.0.0.1:\(crlServer.port)"
            store:
              dir: certs
              crl: { timeout: 2s }
              trust: [{ name: corp, file: chain.pem }]
              certificates:
            \(entries)
            """.write(to: path, atomically: true, encoding: .utf8)
        let loaded = try await ConfigValidation(path: path.path, knownTransports: ["syslog-tls"]).run(selfSigned: .readOnly).get()
        for (name, _, reason) in targets {
            let item = try #require(loaded.store.store.item(named: name))
            let failure = item.checks.first { $0.code == .crlUnreachable && $0.isFailure }
            #expect(failure?.detail?.contains("refused: ") == true && failure?.detail?.contains(reason) == true, "\(name): \(item.checks)")
        }
        #expect(crlServer.totalRequests == 0, "a CRL location reached the admin API's address")
    }
}

/// Polls `condition` until it holds or `timeout` passes.
private func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
