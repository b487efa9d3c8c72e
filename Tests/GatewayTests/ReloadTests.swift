import AlertGateTesting
import Foundation
import Testing

/// Hot reload (docs/reference.md §8) of a running gateway: certificates rotated and config.yaml edited
/// under load, without losing or repeating an alert.
@Suite(.serialized) struct ReloadTests {
    /// The `seq=N` of each message, with repeats.
    func sequenceNumbers(_ messages: [RecordingTLSReceiver.Message]) -> [Int] {
        messages.compactMap { message in
            guard let range = message.text.range(of: #"seq=[0-9]+"#, options: .regularExpression) else { return nil }
            return Int(message.text[range].dropFirst(4))
        }
    }

    /// Sends `count` alerts from `first` on, 100 per connection, `pause` apart.
    func sendLoad(_ harness: GatewayHarness, tag: String, from first: Int, count: Int, pause: Duration) async throws {
        for start in stride(from: first, to: first + count, by: 100) {
            let lines = (start..<min(start + 100, first + count)).map { sensorLine(tag, $0) + "\n" }.joined()
            _ = try await SocketClient.sendTCP(Array(lines.utf8), port: harness.ports.tcp)
            try await Task.sleep(for: pause)
        }
    }

    @Test func rotatingTheApplianceCertificateUnderLoadLosesAndRepeatsNothing() async throws {
        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.syslogPartner, watch: true)
        let receiver = try await harness.recordingPartner()
        let gateway = try await harness.start()
        let oldSerial = try harness.serial(of: harness.folder.appendingPathComponent("certs/sensor-1.crt"))

        // 5,000 alerts over about 2.5 s; the certificate is replaced a second in.
        let load = Task { try await sendLoad(harness, tag: "rotate", from: 1, count: 5000, pause: .milliseconds(50)) }
        try await Task.sleep(for: .seconds(1))
        let rotated = try harness.pki.issue("sensor-1-rotated", commonName: "sensor-1.contoso.com")
        let newSerial = try harness.serial(of: rotated.certificate)
        try harness.rotateApplianceCertificate(to: rotated)
        let rotatedAt = ContinuousClock.now
        let switched = await eventually(timeout: .seconds(30)) { receiver.connections.map(GatewayHarness.normalized).contains(newSerial) }
        let switchTime = ContinuousClock.now - rotatedAt
        try await load.value

        #expect(switched, "no connection with the new certificate \(newSerial): \(receiver.connections)\n\(gateway.standardError)")
        #expect(await eventually(timeout: .seconds(60)) { Set(sequenceNumbers(receiver.messages)).count >= 5000 })
        let received = sequenceNumbers(receiver.messages)
        #expect(Set(received) == Set(1...5000), "lost \(Set(1...5000).subtracting(received).count)")
        #expect(received.count == 5000, "repeated \(received.count - Set(received).count)")
        // Before the rotation the old certificate, after it the new one, and nothing else.
        let serials = receiver.messages.map { GatewayHarness.normalized($0.serial) }
        #expect(Set(serials) == [oldSerial, newSerial])
        #expect(serials.last == newSerial)
        #expect(gateway.standardError.contains("reloaded"))
        print("rotation under load: 5000 sent, \(Set(received).count) received, \(5000 - Set(received).count) lost, \(received.count - Set(received).count) repeated; new certificate in use after \(switchTime)")
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }

    @Test func anExpiredCertificateOverAGoodOneChangesNothingUntilItIsFixed() async throws {
        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.syslogPartner, watch: true)
        let receiver = try await harness.recordingPartner()
        let gateway = try await harness.start()
        let oldSerial = try harness.serial(of: harness.folder.appendingPathComponent("certs/sensor-1.crt"))

        var options = TestPKI.Options(commonName: "sensor-1.contoso.com")
        options.startDate = TestPKI.caDate(daysFromNow: -100)
        options.endDate = TestPKI.caDate(daysFromNow: -2)
        try harness.rotateApplianceCertificate(to: try harness.pki.issue("sensor-1-expired", options))
        #expect(await eventually(timeout: .seconds(30)) { gateway.standardError.contains("reload refused: the previous config and certificates stay in use") }, "\(gateway.standardError)")
        #expect(gateway.standardError.contains("code=expired"))
        let status = try await harness.admin("/v1/status").body
        #expect(status.contains(#""last_reload":{"#) && status.contains(#""ok":false"#), "\(status)")
        #expect(status.contains("expired"))
        #expect(try await harness.admin("/metrics").body.contains("alertgate_reload_failures_total 1"))

        // Alerts still go out, with the previous certificate.
        try await sendLoad(harness, tag: "kept", from: 1, count: 100, pause: .zero)
        #expect(await eventually(timeout: .seconds(30)) { sequenceNumbers(receiver.messages).count >= 100 })
        #expect(Set(receiver.messages.map { GatewayHarness.normalized($0.serial) }) == [oldSerial])

        // Fixed: the next reload takes it (SIGHUP this time), and new connections use it.
        let good = try harness.pki.issue("sensor-1-good", commonName: "sensor-1.contoso.com")
        try harness.rotateApplianceCertificate(to: good)
        gateway.signal(SIGHUP)
        #expect(await eventually(timeout: .seconds(30)) { gateway.standardError.contains("reloaded: the new config and certificates are in use") })
        try await sendLoad(harness, tag: "fixed", from: 101, count: 100, pause: .zero)
        let goodSerial = try harness.serial(of: good.certificate)
        #expect(await eventually(timeout: .seconds(30)) { receiver.messages.contains { GatewayHarness.normalized($0.serial) == goodSerial } })
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }

    @Test func aPartnerAndARuleAddedToConfigYamlReceiveWithoutARestart() async throws {
        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.syslogPartner, watch: true)
        let first = try await harness.recordingPartner()
        let gateway = try await harness.start()

        let archivePort = try FreePort.find()
        let archive = try await harness.recordingPartner(port: archivePort)
        try harness.writeConfig(
            partner: harness.syslogPartner + "\n" + harness.syslogPartner("archive", port: archivePort),
            rules: "  - name: all\n    partners: [siem]\n  - name: majors\n    min_severity: major\n    partners: [archive]\n",
            watch: true)
        #expect(await eventually(timeout: .seconds(30)) { gateway.standardError.contains("reloaded: the new config") }, "\(gateway.standardError)")

        // Severity 8 is major: every alert to both partners from now on.
        try await sendLoad(harness, tag: "added", from: 1, count: 200, pause: .zero)
        #expect(await eventually(timeout: .seconds(30)) { Set(sequenceNumbers(archive.messages)).count >= 200 }, "\(gateway.standardError)")
        #expect(await eventually(timeout: .seconds(30)) { Set(sequenceNumbers(first.messages)).count >= 200 })
        #expect(sequenceNumbers(archive.messages).count == 200)
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }
    @Test func listenersAndAppliancesEditedInConfigYamlTakeEffectWithoutARestart() async throws {
        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.syslogPartner, watch: true)
        let receiver = try await harness.recordingPartner()
        let gateway = try await harness.start()
        try await sendLoad(harness, tag: "before", from: 1, count: 50, pause: .zero)
        #expect(await eventually(timeout: .seconds(30)) { sequenceNumbers(receiver.messages).count >= 50 }, "\(gateway.standardError)")
        let sensor1 = try harness.serial(of: harness.folder.appendingPathComponent("certs/sensor-1.crt"))
        let console1 = try harness.serial(of: harness.folder.appendingPathComponent("certs/console-1.crt"))
        #expect(Set(receiver.messages.map { GatewayHarness.normalized($0.serial) }) == [sensor1])

        // in-tcp moves to another port, in-extra is added, and senders on 127.0.0.0/8 are
        // console-1 from now on (sensor-1 is recognised by its certificate only).
        let (movedPort, extraPort) = (try FreePort.find(), try FreePort.find())
        let listeners = harness.defaultListeners.replacingOccurrences(of: "127.0.0.1:\(harness.ports.tcp)", with: "127.0.0.1:\(movedPort)")
            + "\n  - { name: in-extra, protocol: syslog-tcp, listen: \"127.0.0.1:\(extraPort)\" }"
        try harness.writeConfig(
            partner: harness.syslogPartner, watch: true,
            appliances: harness.appliances(sensor1Match: "{ cn: sensor-1.contoso.com }", console1Match: "{ source: 127.0.0.0/8 }"), listeners: listeners)
        #expect(await eventually(timeout: .seconds(30)) { gateway.standardError.contains("reloaded: the new config") }, "\(gateway.standardError)")

        await #expect(throws: (any Error).self, "in-tcp still listens on its old port") {
            _ = try await SocketClient.sendTCP(Array((sensorLine("old-port", 0) + "\n").utf8), port: harness.ports.tcp)
        }
        let moved = (51...100).map { sensorLine("moved", $0) + "\n" }.joined()
        _ = try await SocketClient.sendTCP(Array(moved.utf8), port: movedPort)
        let extra = (101...150).map { sensorLine("extra", $0) + "\n" }.joined()
        _ = try await SocketClient.sendTCP(Array(extra.utf8), port: extraPort)
        #expect(await eventually(timeout: .seconds(30)) { sequenceNumbers(receiver.messages).count >= 150 }, "\(gateway.standardError)")
        #expect(Set(sequenceNumbers(receiver.messages)) == Set(1...150))
        // Forwarded as console-1: with its certificate.
        let after = receiver.messages.filter { ($0.text.contains("moved") || $0.text.contains("extra")) }
        #expect(after.count == 100)
        #expect(Set(after.map { GatewayHarness.normalized($0.serial) }) == [console1])
        // Ready: every listener of the new config is bound.
        #expect(try await harness.admin("/readyz").status == 200)

        // A listener on a port another program holds (the partner's): the reload is refused
        // whole, naming the listener and the address, and the listeners stay as they are.
        let clash = listeners + "\n  - { name: in-clash, protocol: syslog-tcp, listen: \"127.0.0.1:\(harness.ports.partner)\" }"
        try harness.writeConfig(
            partner: harness.syslogPartner,
            appliances: harness.appliances(sensor1Match: "{ cn: sensor-1.contoso.com }", console1Match: "{ source: 127.0.0.0/8 }"), listeners: clash)
        let refused = try await harness.admin("/v1/reload", method: "POST")
        #expect(refused.status == 422)
        #expect(refused.body.contains("listener in-clash: cannot listen on 127.0.0.1:\(harness.ports.partner)"), "\(refused.body)")
        let more = (151...160).map { sensorLine("extra", $0) + "\n" }.joined()
        _ = try await SocketClient.sendTCP(Array(more.utf8), port: extraPort)
        #expect(await eventually(timeout: .seconds(30)) { sequenceNumbers(receiver.messages).count >= 160 }, "\(gateway.standardError)")
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }

    @Test func aSenderRevokedWhileConnectedIsCutOffWhenTheTrustBundlesCRLFileChanges() async throws {
        let harness = try GatewayHarness()
        let crl = harness.folder.appendingPathComponent("certs/corp.crl.pem")
        try harness.pki.writeCRL(to: crl, format: .pem)
        try harness.writeConfig(partner: harness.syslogPartner, watch: true, trustCRL: "corp.crl.pem")
        let receiver = try await harness.recordingPartner()
        let gateway = try await harness.start()
        // The console's own client certificate (CN console-1.contoso.com: attributed to
        // console-1, validation required), kept open.
        let client = try harness.pki.issue("console-1-client", commonName: "console-1.contoso.com")
        let console = try harness.connectTLS(certificate: client)
        try console.write((1...20).map { sensorLine("connected", $0) + "\n" }.joined())
        #expect(await eventually(timeout: .seconds(30)) { sequenceNumbers(receiver.messages).count >= 20 }, "\(gateway.standardError)")

        // The CA revokes it and the site's CRL file is updated: the reload checks the open
        // connection's certificate again and closes it.
        try harness.pki.revoke(client)
        try harness.pki.writeCRL(to: crl, format: .pem)
        _ = try await console.waitForExit(timeout: .seconds(30))
        #expect(gateway.standardError.contains("closing the open connection of the client certificate CN=console-1.contoso.com"), "\(gateway.standardError)")
        #expect(gateway.standardError.contains("code=revoked"))
        // And its next connection is refused.
        _ = try await harness.sendTLS([sensorLine("revoked", 21)], certificate: client)
        #expect(await eventually(timeout: .seconds(30)) { gateway.standardError.contains("refused the client certificate CN=console-1.contoso.com") })
        #expect(Set(sequenceNumbers(receiver.messages)) == Set(1...20), "an alert of the revoked sender was forwarded")
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }

    @Test func theAdminAPIShowsStatusAndMetricsAndRefusesABrokenReload() async throws {
        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.syslogPartner)
        let receiver = try await harness.recordingPartner()
        let gateway = try await harness.start()
        try await sendLoad(harness, tag: "admin", from: 1, count: 50, pause: .zero)
        #expect(await eventually(timeout: .seconds(30)) { sequenceNumbers(receiver.messages).count >= 50 })

        #expect(try await harness.admin("/healthz").status == 200)
        #expect(try await harness.admin("/readyz").status == 200)
        #expect(await eventually(timeout: .seconds(10)) { (try? await harness.admin("/v1/status").body.contains("\"delivered\":50")) == true })
        let status = try await harness.admin("/v1/status")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.body.utf8)) as? [String: Any])
        let partners = try #require(object["partners"] as? [[String: Any]])
        #expect(partners.first?["name"] as? String == "siem")
        #expect(partners.first?["state"] as? String == "connected")
        #expect(partners.first?["queued"] as? Int == 0)
        let certificates = try #require(object["certificates"] as? [[String: Any]])
        #expect(certificates.contains { $0["name"] as? String == "sensor-1" && $0["state"] as? String == "valid" })

        let metrics = try await harness.admin("/metrics").body
        #expect(metrics.contains(#"alertgate_alerts_forwarded_total{partner="siem"} 50"#), "\(metrics)")
        #expect(metrics.contains(#"alertgate_alerts_received_total{"#))
        #expect(metrics.contains(#"alertgate_certificate_not_after_seconds{certificate="sensor-1"}"#))
        #expect(metrics.contains(#"alertgate_connections{appliance="sensor-1",partner="siem",state="connected"} 1"#), "\(metrics)")

        // A broken config.yaml: 422 with the error at its line, and nothing changes.
        try "gateway: [\n".write(to: harness.configFile, atomically: true, encoding: .utf8)
        let refused = try await harness.admin("/v1/reload", method: "POST")
        #expect(refused.status == 422)
        #expect(refused.body.contains("config.yaml:"), "\(refused.body)")
        #expect(try await harness.admin("/metrics").body.contains("alertgate_reload_failures_total 1"))
        let cli = try await ProcessRunner.captureDetached(AlertGateBinary.path, ["status", "--admin", "127.0.0.1:\(harness.ports.admin)"])
        #expect(cli.status == 0, "\(cli.standardError)")
        #expect(cli.standardOutput.contains("siem"))
        #expect(cli.standardOutput.contains("sensor-1"))
        try await sendLoad(harness, tag: "after", from: 51, count: 50, pause: .zero)
        #expect(await eventually(timeout: .seconds(30)) { sequenceNumbers(receiver.messages).count >= 100 })
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }
    /// A partner whose certificate names a CRL on a local HTTP server, listening on
    /// `ports.partner` and recording each connection; the gateway refreshes CRLs every 2 s.
    func partnerWithCRL(_ harness: GatewayHarness) async throws -> (TestPKI.Issued, URL, FileHTTPServer, RecordingTLSReceiver) {
        let published = harness.pki.directory.appendingPathComponent("crl-www")
        try FileManager.default.createDirectory(at: published, withIntermediateDirectories: true)
        let crlServer = try await FileHTTPServer(directory: published)
        try harness.pki.writeCRL(to: published.appendingPathComponent("ca.crl"))
        var options = TestPKI.Options(commonName: "partner.test")
        options.subjectAlternativeNames = ["DNS:partner.test", "IP:127.0.0.1"]
        options.crlURL = crlServer.url(for: "ca.crl")
        let partner = try harness.pki.issue("partner-with-crl", options)
        let chain = harness.pki.directory.appendingPathComponent("partner-with-crl-chain.pem")
        try (String(contentsOf: partner.certificate, encoding: .utf8) + String(contentsOf: harness.pki.chainFile, encoding: .utf8))
            .write(to: chain, atomically: true, encoding: .utf8)
        let receiver = try await RecordingTLSReceiver(certificate: chain, key: partner.key, clientCA: harness.pki.chainFile, port: harness.ports.partner)
        try harness.writeConfig(partner: harness.syslogPartner, crlMaxAge: "2s")
        return (partner, published, crlServer, receiver)
    }

    /// How many CRL refreshes have finished checking the open partner connections.
    func refreshesDone(_ gateway: RunningProcess) -> Int {
        gateway.standardError.components(separatedBy: "partner connections checked again").count - 1
    }

    @Test func crlRefreshesKeepTheOneConnectionOfAPartnerNothingHappenedTo() async throws {
        let harness = try GatewayHarness()
        let (_, _, crlServer, receiver) = try await partnerWithCRL(harness)
        let gateway = try await harness.start()
        try await sendLoad(harness, tag: "first", from: 1, count: 20, pause: .zero)
        #expect(await eventually(timeout: .seconds(30)) { sequenceNumbers(receiver.messages).count >= 20 }, "\(gateway.standardError)")

        // Three refreshes (max_age 2 s) each check the open connection again and keep it.
        let done = refreshesDone(gateway)
        #expect(await eventually(timeout: .seconds(30)) { refreshesDone(gateway) >= done + 3 }, "\(gateway.standardError)")
        try await sendLoad(harness, tag: "second", from: 21, count: 20, pause: .zero)
        #expect(await eventually(timeout: .seconds(30)) { sequenceNumbers(receiver.messages).count >= 40 }, "\(gateway.standardError)")
        #expect(receiver.connections.count == 1, "the partner was reconnected at CRL refreshes: \(receiver.connections)")
        #expect(receiver.closedConnections.isEmpty)
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
        try await crlServer.stop()
    }

    @Test func aCRLThatRevokesThePartnerClosesItsConnectionUnderRequired() async throws {
        let harness = try GatewayHarness()
        let (partner, published, crlServer, receiver) = try await partnerWithCRL(harness)
        let gateway = try await harness.start()

        try await sendLoad(harness, tag: "before", from: 1, count: 50, pause: .zero)
        #expect(await eventually(timeout: .seconds(30)) { sequenceNumbers(receiver.messages).count >= 50 }, "\(gateway.standardError)")

        // The CA revokes the partner: the next CRL refresh (max_age 2 s) closes its open
        // connection, and the next one is refused.
        try harness.pki.revoke(partner)
        try harness.pki.writeCRL(to: published.appendingPathComponent("ca.crl"))
        let fetches = crlServer.requests(for: "ca.crl")
        #expect(await eventually(timeout: .seconds(30)) { crlServer.requests(for: "ca.crl") > fetches }, "the gateway did not fetch the CRL again")
        #expect(await eventually(timeout: .seconds(30)) { receiver.closedConnections.count >= 1 }, "\(gateway.standardError)")
        #expect(gateway.standardError.contains("closing the open connection to partner siem: a fresh CRL revokes its certificate"), "\(gateway.standardError)")
        // Alerts sent once the refresh is done: their attempt is refused at the handshake
        // (logged), and none reaches the partner.
        let refusals = gateway.standardError.components(separatedBy: "connection to partner failed").count
        try await sendLoad(harness, tag: "after", from: 51, count: 50, pause: .zero)
        #expect(await eventually(timeout: .seconds(30)) { gateway.standardError.components(separatedBy: "connection to partner failed").count > refusals }, "\(gateway.standardError)")
        #expect(gateway.standardError.contains("code=revoked"))
        #expect(sequenceNumbers(receiver.messages).allSatisfy { $0 <= 50 }, "alerts reached a revoked partner")
        // They wait in the spool for a partner that passes the checks.
        let queued = await eventually(timeout: .seconds(10)) { (try? await harness.admin("/v1/status").body.contains("\"queued\":50")) == true }
        let status = (try? await harness.admin("/v1/status").body) ?? ""
        #expect(queued, "\(status)")
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
        try await crlServer.stop()
    }

    @Test func aHalfWrittenCertificateIsRefusedAndTheCompletedFileTaken() async throws {
        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.syslogPartner, watch: true)
        let receiver = try await harness.recordingPartner()
        let gateway = try await harness.start()
        let certificate = harness.folder.appendingPathComponent("certs/sensor-1.crt")
        let oldSerial = try harness.serial(of: certificate)

        // A copy that stopped halfway (a full disk, a killed tool): refused, nothing changes.
        let fresh = try harness.pki.issue("sensor-1-fresh", commonName: "sensor-1.contoso.com")
        try harness.rotateApplianceCertificate(to: fresh)
        let whole = try Data(contentsOf: certificate)
        try whole.prefix(whole.count / 2).write(to: certificate)
        #expect(await eventually(timeout: .seconds(30)) { gateway.standardError.contains("reload refused: the previous config and certificates stay in use") }, "\(gateway.standardError)")
        try await sendLoad(harness, tag: "half", from: 1, count: 50, pause: .zero)
        #expect(await eventually(timeout: .seconds(30)) { sequenceNumbers(receiver.messages).count >= 50 })
        #expect(Set(receiver.messages.map { GatewayHarness.normalized($0.serial) }) == [oldSerial])

        // The file completed: the next reload takes it.
        try whole.write(to: certificate)
        #expect(await eventually(timeout: .seconds(30)) { gateway.standardError.contains("reloaded: the new config and certificates are in use") }, "\(gateway.standardError)")
        try await sendLoad(harness, tag: "whole", from: 51, count: 50, pause: .zero)
        let freshSerial = try harness.serial(of: fresh.certificate)
        #expect(await eventually(timeout: .seconds(30)) { receiver.messages.contains { GatewayHarness.normalized($0.serial) == freshSerial } })
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }
}
