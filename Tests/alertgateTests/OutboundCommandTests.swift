import AlertGateTesting
import Foundation
import Testing

/// `send-test`, `diagnose` and `cert fetch` against real TLS servers on 127.0.0.1.
@Suite struct OutboundCommandTests {
    let pki: TestPKI
    let folder: URL

    init() throws {
        pki = try TestPKI()
        folder = try pki.gatewayFolder()
    }

    /// A syslog-over-TLS receiver that requires a client certificate from the test CA.
    func receiver(_ options: TestPKI.Options = TestPKI.Options(commonName: "siem.contoso.com")) async throws -> OpenSSLServer {
        let issued = try pki.issue("siem-\(UUID().uuidString.prefix(6))", options)
        return try await OpenSSLServer(certificate: issued.certificate, key: issued.key, chain: pki.chainFile, clientCA: pki.rootCertificate, mode: .sink)
    }

    func writeConfig(port: Int, validation: String = "required", format: String = "cef") throws -> String {
        let path = folder.appendingPathComponent("config.yaml")
        try TestPKI.gatewayConfig(validation: validation, partners: """
              - name: qradar
                transport: syslog-tls
                endpoint: 127.0.0.1:\(port)
                server_name: siem.contoso.com
                trust: corp
                format: \(format)

            """).write(to: path, atomically: true, encoding: .utf8)
        return path.path
    }

    @Test func sendTestDeliversOneFramedAlertWithTheApplianceCertificate() async throws {
        let server = try await receiver()
        let config = try writeConfig(port: server.port)
        let result = try AlertGateBinary.run(["send-test", "qradar", "--config", config])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("delivered test alert"))
        let frames = server.syslogFrames
        #expect(frames.count == 1, "\(server.output)")
        let frame = try #require(frames.first)
        // RFC 5424 header (facility user, severity from the alert), CEF payload.
        #expect(frame.hasPrefix("<"))
        #expect(frame.contains(">1 "))
        #expect(frame.contains("CEF:0|Microsoft Defender for IoT|"))
        #expect(frame.contains("alertgate test alert"))
        // The receiver verified our client certificate: the appliance's.
        #expect(server.output.contains("CN = sensor-1.contoso.com"))
    }

    @Test func sendTestToAPartnerThatFailsValidationSendsNothing() async throws {
        var options = TestPKI.Options(commonName: "siem.contoso.com")
        options.startDate = TestPKI.caDate(daysFromNow: -90)
        options.endDate = TestPKI.caDate(daysFromNow: -3)
        let server = try await receiver(options)
        let config = try writeConfig(port: server.port)
        let result = try AlertGateBinary.run(["send-test", "qradar", "--config", config])
        #expect(result.status == 1)
        #expect(result.standardError.contains("This SSL certificate has expired and isn't considered valid."))
        #expect(result.standardError.contains("(expired)"))
        #expect(server.syslogFrames.isEmpty)
    }

    @Test func sendTestUnderValidationNoneDeliversAndWarns() async throws {
        let server = try await receiver(TestPKI.Options(commonName: "wrong.contoso.com"))
        let config = try writeConfig(port: server.port, validation: "none", format: "json")
        let result = try AlertGateBinary.run(["send-test", "qradar", "--config", config])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardError.contains("warning"))
        #expect(result.standardError.contains("code=name-mismatch"))
        #expect(result.standardError.contains("partner=qradar"))
        let frame = try #require(server.syslogFrames.first)
        #expect(frame.contains("\"title\":\"alertgate test alert\""))
    }

    @Test func diagnosePrintsEveryStepOfAGoodConnection() async throws {
        let server = try await receiver()
        let config = try writeConfig(port: server.port)
        let result = try AlertGateBinary.run(["diagnose", "qradar", "--config", config])
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        let lines = result.standardOutput.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        for step in ["TCP", "TLS", "chain", "expired", "not-yet-valid", "name-mismatch", "client cert"] {
            #expect(lines.contains { $0.hasPrefix(step) && $0.contains("PASS") }, "\(step) in \(lines)")
        }
        #expect(lines.last == "result: every step passed")
    }

    @Test func diagnoseNamesTheFailingCheck() async throws {
        let server = try await receiver(TestPKI.Options(commonName: "other.contoso.com"))
        let config = try writeConfig(port: server.port)
        let result = try AlertGateBinary.run(["diagnose", "qradar", "--config", config])
        #expect(result.status == 1)
        #expect(result.standardOutput.contains(
            "FAIL  The certificate does not match the expected name siem.contoso.com: it holds CN=other.contoso.com, SAN=DNS:other.contoso.com."))
        #expect(result.standardOutput.contains("result: the connection would be refused"))
    }

    @Test func diagnoseReportsAClosedPort() async throws {
        let port = try FreePort.find()
        let config = try writeConfig(port: port)
        let result = try AlertGateBinary.run(["diagnose", "qradar", "--config", config])
        #expect(result.status == 1)
        #expect(result.standardOutput.contains("TCP             FAIL  127.0.0.1:\(port)"))
    }

    @Test func certFetchSavesTheChainThePartnerPresents() async throws {
        let server = try await receiver()
        let out = folder.appendingPathComponent("fetched.pem")
        let result = try AlertGateBinary.run(["cert", "fetch", "127.0.0.1:\(server.port)", "--server-name", "siem.contoso.com", "--out", out.path])
        #expect(result.status == 0, "\(result.standardError)")
        // The leaf and the chain file the server was given: intermediate and root.
        #expect(result.standardOutput.contains("saved 3 certificates"))
        #expect(result.standardOutput.contains("SAN:      DNS:siem.contoso.com"))
        let subject = try OpenSSLCLI.run(["x509", "-in", out.path, "-noout", "-subject"])
        #expect(subject.contains("CN = siem.contoso.com"))
        // The saved chain verifies against the test root with openssl itself.
        let verify = try ProcessRunner.capture("/usr/bin/openssl", ["verify", "-CAfile", pki.rootCertificate.path, "-untrusted", out.path, out.path])
        #expect(verify.standardOutput.contains(": OK"))

        let der = folder.appendingPathComponent("fetched.der")
        let derResult = try AlertGateBinary.run(["cert", "fetch", "127.0.0.1:\(server.port)", "--der", "--out", der.path])
        #expect(derResult.status == 0)
        #expect(try OpenSSLCLI.run(["x509", "-inform", "DER", "-in", der.path, "-noout", "-subject"]).contains("siem.contoso.com"))
    }
}

/// `diagnose` against each kind of broken partner prints the failing check with its
/// section-5 message (issue 3's "done when").
@Suite struct DiagnoseMatrixTests {
    enum Broken: String, CaseIterable, Sendable {
        case wrongName = "name-mismatch"
        case expired
        case anotherCA = "chain"
        case revoked
        case crlServerDown = "crl-unreachable"
    }

    @Test(arguments: Broken.allCases)
    func diagnosePrintsTheFailingCheck(_ broken: Broken) async throws {
        let suite = try OutboundCommandTests()
        var options = TestPKI.Options(commonName: broken == .wrongName ? "other.contoso.com" : "siem.contoso.com")
        var issuer = suite.pki
        var crlServer: FileHTTPServer?
        switch broken {
        case .wrongName:
            break
        case .expired:
            options.startDate = TestPKI.caDate(daysFromNow: -30)
            options.endDate = TestPKI.caDate(daysFromNow: -1)
        case .anotherCA:
            issuer = try TestPKI(name: "Rogue")
        case .revoked, .crlServerDown:
            let folder = suite.pki.directory.appendingPathComponent("www")
            try suite.pki.writeCRL(to: folder.appendingPathComponent("issuing.crl"))
            let server = try await FileHTTPServer(directory: folder)
            crlServer = server
            options.crlURL = server.url(for: "issuing.crl")
        }
        let issued = try issuer.issue("partner", options)
        if broken == .revoked {
            try suite.pki.revoke(issued)
            try suite.pki.writeCRL(to: suite.pki.directory.appendingPathComponent("www/issuing.crl"))
        }
        if broken == .crlServerDown {
            try await crlServer?.stop()
        }
        let partner = try await OpenSSLServer(
            certificate: issued.certificate, key: issued.key, chain: issuer.chainFile, clientCA: suite.pki.rootCertificate, mode: .sink)
        let config = try suite.writeConfig(port: partner.port)
        let result = try AlertGateBinary.run(["diagnose", "qradar", "--config", config])
        try? await crlServer?.stop()

        #expect(result.status == 1)
        let line = result.standardOutput.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.hasPrefix(broken.rawValue + " ") && $0.contains("FAIL") }
        let expected: String = switch broken {
        case .wrongName: "The certificate does not match the expected name siem.contoso.com"
        case .expired: "This SSL certificate has expired and isn't considered valid."
        case .anotherCA: "Cannot validate chain of trust. The provided Certificate and Root CA don't match."
        case .revoked: "This certificate has been revoked by the CRL and can't be trusted for a secure connection"
        case .crlServerDown: "The CRL (Certificate Revocation List) location is not reachable. Verify the URL can be accessed from this appliance"
        }
        #expect(line?.contains(expected) == true, "\(result.standardOutput)")
        #expect(result.standardOutput.contains("result: the connection would be refused"))
    }
}
