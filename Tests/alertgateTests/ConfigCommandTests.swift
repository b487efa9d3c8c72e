import AlertGateTesting
import Foundation
import Testing

/// `alertgate check-config` and `alertgate run` on real config files and certificates.
@Suite struct ConfigCommandTests {
    let pki: TestPKI
    let folder: URL

    init() throws {
        pki = try TestPKI()
        folder = pki.directory.appendingPathComponent("gateway")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("certs"), withIntermediateDirectories: true)
    }

    /// The repository's own config.yaml.
    static let shippedConfig = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("config.yaml")

    /// Copies an issued certificate into the gateway's store folder.
    func install(_ issued: TestPKI.Issued, as name: String) throws {
        let certs = folder.appendingPathComponent("certs")
        try FileManager.default.copyItem(at: issued.certificate, to: certs.appendingPathComponent("\(name).crt"))
        try FileManager.default.copyItem(at: issued.key, to: certs.appendingPathComponent("\(name).key"))
        let chain = certs.appendingPathComponent("chain.pem")
        if !FileManager.default.fileExists(atPath: chain.path) {
            try FileManager.default.copyItem(at: pki.chainFile, to: chain)
        }
    }

    func writeConfig(_ text: String) throws -> URL {
        let url = folder.appendingPathComponent("config.yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func config(certificates: String) -> String {
        """
        gateway:
          data_dir: data
        store:
          dir: certs
          trust:
            - name: corp
              file: chain.pem
          certificates:
        \(certificates)
        appliances:
          - name: sensor-1
            kind: sensor
            certificate: sensor-1
            match: { source: 127.0.0.0/8 }

        """
    }

    // MARK: check-config

    @Test func theShippedConfigIsValidAndCheckingItWritesNothing() throws {
        let copy = folder.appendingPathComponent("config.yaml")
        try FileManager.default.copyItem(at: Self.shippedConfig, to: copy)
        let result = try AlertGateBinary.run(["check-config", "--config", copy.path])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("valid"))
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("data").path))
    }

    @Test func certificateProblemsAreReportedAtTheirEntrysLine() throws {
        var options = TestPKI.Options(commonName: "sensor-1.contoso.com")
        options.startDate = TestPKI.caDate(daysFromNow: -100)
        options.endDate = TestPKI.caDate(daysFromNow: -2)
        try install(try pki.issue("s1", options), as: "sensor-1")
        try install(try pki.issue("s2", commonName: "sensor-1.contoso.com"), as: "sensor-2")
        let path = try writeConfig(config(certificates: """
                - name: sensor-1
                  cert: sensor-1.crt
                  key: sensor-1.key
                  chain: chain.pem
                - name: sensor-2
                  cert: sensor-2.crt
                  key: sensor-2.key
            """))
        let result = try AlertGateBinary.run(["check-config", "--config", path.path])
        #expect(result.status == 1)
        let lines = result.standardError.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("\(path.path):9:7: certificate sensor-1: This SSL certificate has expired and isn't considered valid. (expired;") })
        #expect(lines.contains { $0.hasPrefix("\(path.path):13:7: certificate sensor-2: Each appliance must use a unique CN: sensor-1 and sensor-2 share CN. (duplicate-cn") })
    }

    @Test func configErrorsArePrintedWithPathLineAndColumn() throws {
        let path = try writeConfig("""
            gateway:
              data_dir: data
              validaton: required
            rules:
              - name: r
                partners: [nowhere]

            """)
        let result = try AlertGateBinary.run(["check-config", "--config", path.path])
        #expect(result.status == 1)
        let lines = result.standardError.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.first?.hasPrefix("\(path.path):3:3: ") == true)
        #expect(lines.first?.contains("validaton") == true)
        #expect(lines.last?.hasPrefix("\(path.path):6:") == true)
        #expect(lines.last?.contains("nowhere") == true)
    }

    @Test func aMissingConfigFileIsNamed() throws {
        let missing = folder.appendingPathComponent("nope.yaml").path
        let result = try AlertGateBinary.run(["check-config", "--config", missing])
        #expect(result.status == 1)
        #expect(result.standardError.hasPrefix("\(missing):1:1: "))
    }

    // MARK: run

    @Test func runStartsOnTheShippedConfigGeneratesItsCertificatesOnceAndStopsCleanly() async throws {
        let copy = folder.appendingPathComponent("config.yaml")
        try FileManager.default.copyItem(at: Self.shippedConfig, to: copy)
        let generated = folder.appendingPathComponent("data/certificates/gateway.crt")

        let first = try RunningProcess(AlertGateBinary.path, ["run", "--config", copy.path])
        try await first.waitForOutput(containing: "alertgate running")
        #expect(FileManager.default.fileExists(atPath: generated.path))
        first.signal(SIGTERM)
        #expect(try await first.waitForExit() == 0)
        #expect(first.standardError.contains("alertgate stopped"))
        let fingerprint = try OpenSSLCLI.run(["x509", "-in", generated.path, "-noout", "-fingerprint", "-sha256"])

        // The second start reuses the generated certificate rather than making a new one.
        let second = try RunningProcess(AlertGateBinary.path, ["run", "--config", copy.path])
        try await second.waitForOutput(containing: "alertgate running")
        second.signal(SIGINT)
        #expect(try await second.waitForExit() == 0)
        #expect(try OpenSSLCLI.run(["x509", "-in", generated.path, "-noout", "-fingerprint", "-sha256"]) == fingerprint)
    }

    @Test func runRefusesToStartWhenARequiredCertificateIsInvalid() async throws {
        var options = TestPKI.Options(commonName: "sensor-1.contoso.com")
        options.keyType = .rsa(bits: 1024)
        try install(try pki.issue("s1", options), as: "sensor-1")
        let path = try writeConfig(config(certificates: """
                - name: sensor-1
                  cert: sensor-1.crt
                  key: sensor-1.key
            """))
        let process = try RunningProcess(AlertGateBinary.path, ["run", "--config", path.path])
        #expect(try await process.waitForExit() == 1)
        #expect(process.standardError.contains("The public key must be RSA 2048 bits or more."))
        #expect(process.standardError.contains("code=weak-key"))
        #expect(process.standardError.contains("certificate=sensor-1"))
    }

    @Test func runRefusesAnInvalidConfig() async throws {
        let path = try writeConfig("gateway: [1, 2]\n")
        let process = try RunningProcess(AlertGateBinary.path, ["run", "--config", path.path])
        #expect(try await process.waitForExit() == 1)
        #expect(process.standardError.hasPrefix("\(path.path):1:10: "))
    }

    @Test func sighupRechecksTheStoreAndKeepsAValidCertificateWhenNewFilesFail() async throws {
        try install(try pki.issue("s1", commonName: "sensor-1.contoso.com"), as: "sensor-1")
        let path = try writeConfig(config(certificates: """
                - name: sensor-1
                  cert: sensor-1.crt
                  key: sensor-1.key
            """))
        let process = try RunningProcess(AlertGateBinary.path, ["run", "--config", path.path])
        try await process.waitForOutput(containing: "alertgate running")

        // Rotate in an expired certificate: refused, and the old one stays.
        var options = TestPKI.Options(commonName: "sensor-1.contoso.com")
        options.startDate = TestPKI.caDate(daysFromNow: -100)
        options.endDate = TestPKI.caDate(daysFromNow: -2)
        let expired = try pki.issue("s1-expired", options)
        let certs = folder.appendingPathComponent("certs")
        try FileManager.default.removeItem(at: certs.appendingPathComponent("sensor-1.crt"))
        try FileManager.default.removeItem(at: certs.appendingPathComponent("sensor-1.key"))
        try install(expired, as: "sensor-1")
        process.signal(SIGHUP)
        try await process.waitForOutput(containing: "certificate refused; the previous one stays in use")
        #expect(process.standardError.contains("code=expired"))
        process.signal(SIGTERM)
        #expect(try await process.waitForExit() == 0)
    }
}

extension ConfigCommandTests {
    @Test func aTransportPluginCheckPointsAtThePartnersLine() throws {
        let path = try writeConfig("""
            partners:
              - name: splunk
                transport: http2
                endpoint: http://splunk.example.com:8088/services/collector/event

            """)
        let result = try AlertGateBinary.run(["check-config", "--config", path.path])
        #expect(result.status == 1)
        #expect(result.standardError.hasPrefix("\(path.path):2:5: "), "\(result.standardError)")
        #expect(result.standardError.contains("https://"))
    }
}

extension ConfigCommandTests {
    /// A self-signed certificate file in the store (not `self_signed:`) needs the same
    /// acknowledgement as a generated one.
    @Test func aSelfSignedStoreFileNeedsAcknowledgeInsecure() throws {
        let made = try AlertGateBinary.run([
            "cert", "self-signed", "--cn", "sensor-1.contoso.com", "--out", folder.appendingPathComponent("certs").path, "--i-understand-this-is-insecure",
        ])
        #expect(made.status == 0, "\(made.standardError)")
        try FileManager.default.copyItem(at: pki.chainFile, to: folder.appendingPathComponent("certs/chain.pem"))
        let refused = try writeConfig(config(certificates: """
                - name: sensor-1
                  cert: sensor-1.contoso.com.crt
                  key: sensor-1.contoso.com.key
            """))
        let result = try AlertGateBinary.run(["check-config", "--config", refused.path])
        #expect(result.status == 1, "\(result.standardOutput)")
        #expect(result.standardError.contains(
            "\(refused.path):9:7: certificate sensor-1: Cannot validate chain of trust. The provided Certificate and Root CA don't match. (chain; the certificate is self-signed"),
            "\(result.standardError)")
        #expect(result.standardError.contains("acknowledge_insecure: true"))

        let accepted = try writeConfig(config(certificates: """
                - name: sensor-1
                  cert: sensor-1.contoso.com.crt
                  key: sensor-1.contoso.com.key
                  acknowledge_insecure: true
            """))
        let again = try AlertGateBinary.run(["check-config", "--config", accepted.path])
        #expect(again.status == 0, "\(again.standardError)")
    }

    /// docs/reference.md §11: a listener that lets clients in without a certificate and can attribute
    /// them to an appliance under `required` (which refuses every such client) is worth a
    /// word; the config is still valid.
    @Test func aListenerThatCannotAdmitClientsWithoutACertificateIsWarnedAbout() throws {
        try install(try pki.issue("gateway", commonName: "gateway.contoso.com"), as: "gateway")
        let path = try writeConfig("""
            gateway:
              data_dir: data
            store:
              dir: certs
              trust:
                - { name: corp, file: chain.pem }
              certificates:
                - { name: gateway, cert: gateway.crt, key: gateway.key, chain: chain.pem }
            appliances:
              - { name: plant, kind: sensor, validation: required, match: { source: 10.1.0.0/16 } }
              - { name: lab, kind: sensor, validation: none, match: { source: 10.2.0.0/16 } }
              - { name: console, kind: console, validation: required, match: { cn: console.contoso.com } }
            listeners:
              - { name: strict, protocol: syslog-tls, listen: "127.0.0.1:6514", certificate: gateway, client_auth: required }
              - name: open
                protocol: syslog-tls
                listen: "127.0.0.1:6515"
                certificate: gateway
                client_auth: optional

            """)
        let result = try AlertGateBinary.run(["check-config", "--config", path.path])
        #expect(result.status == 0, "\(result.standardError)")
        let warnings = result.standardError.split(separator: "\n").map(String.init).filter { $0.contains("warning:") }
        #expect(warnings.count == 1, "\(result.standardError)")
        #expect(warnings.first?.hasPrefix("\(path.path):15:5: warning: listener open has client_auth: optional") == true, "\(warnings)")
        #expect(warnings.first?.contains("appliance plant (validation: required) by its source 10.1.0.0/16") == true, "\(warnings)")
    }
}
