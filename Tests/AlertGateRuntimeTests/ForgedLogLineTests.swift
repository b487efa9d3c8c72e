import AlertGateConfig
import AlertGateCore
import AlertGateListeners
import AlertGatePKI
import AlertGateTesting
import Foundation
import Logging
import Testing

@testable import AlertGateRuntime

/// A client certificate whose CN holds a line break and a fake log line, presented by a
/// real `openssl s_client`: the gateway's refusal stays one line of its text log.
@Suite struct ForgedLogLineTests {
    struct NoCRLs: CRLSource {
        func revocationList(at url: String) async throws(CRLFetchError) -> CertificateRevocationList {
            throw CRLFetchError(url: url, reason: "no CRLs in this test")
        }
    }

    actor NoIntake: AlertIntake {
        func accept(_ alerts: [Alert], from listener: String) async -> IntakeOutcome { .stored }
    }

    @Test func aCNWithALineBreakCannotForgeALogLine() async throws {
        let pki = try TestPKI()
        let gateway = try pki.issue("gateway", commonName: "gateway.contoso.com")
        let store = await CertificateStore.load(
            entries: [.init(name: "gateway", files: CertificateFiles(certificate: gateway.certificate.path, key: gateway.key.path, chain: pki.chainFile.path))],
            trust: [.init(name: "corp", file: pki.chainFile.path, crl: nil)], crlSource: nil)
        var options = TestPKI.Options(commonName: "forged")
        options.subjectConfig = #"CN = x\n2026-12-07T00:00:00.000+0000 error FORGED LINE"#
        options.subjectAlternativeNames = []
        let forged = try pki.issue("forged", options)

        let config = GatewayConfig(
            gateway: GatewaySection(dataDir: pki.directory.appendingPathComponent("data")), store: StoreSection(dir: pki.directory),
            appliances: [ApplianceConfig(name: "sensor-7", kind: .sensor, validation: .required, match: .commonName("sensor-7.contoso.com"), location: .start)],
            listeners: [
                ListenerConfig(
                    name: "tls", protocol: .syslogTLS, listen: HostPort(host: "127.0.0.1", port: 0), certificate: "gateway", clientAuth: .required, location: .start)
            ])
        let logPath = pki.directory.appendingPathComponent("gateway.log").path
        let output = try LogOutput.file(logPath)
        let logger = Logger(label: "alertgate") { label in LineLogHandler(label: label, format: .text, output: output) }
        let listeners = try ListenerSet(config: config, store: store, crlSource: NoCRLs(), intake: NoIntake(), logger: logger)
        try await listeners.start()
        let port = try #require(listeners.address(of: "tls")?.port)

        let result = try await ProcessRunner.captureDetached(
            "/usr/bin/openssl",
            ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", pki.rootCertificate.path, "-quiet", "-no_ign_eof",
             "-cert", forged.certificate.path, "-key", forged.key.path, "-cert_chain", pki.chainFile.path],
            input: "<134>hello\n", timeout: 60)
        let deadline = ContinuousClock.now + .seconds(60)
        var text = ""
        while !text.contains("FORGED"), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        }
        await listeners.stop()
        let lines = text.split(separator: "\n").map(String.init)
        let refusal = try #require(lines.first { $0.contains("FORGED") }, "openssl: \(result.standardError)\nlog:\n\(text)")
        #expect(refusal.contains(#"refused the client certificate CN=x\n2026-12-07T00:00:00.000+0000 error FORGED LINE from 127.0.0.1:"#), "\(refusal)")
        // Every line is one of the gateway's: it starts with the gateway's own timestamp
        // and level, and no line starts with what the peer wrote.
        #expect(lines.allSatisfy { $0.wholeMatch(of: /\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d{4}) (debug|info|warning|error) .*/) != nil }, "\(lines)")
        #expect(!lines.contains { $0.hasPrefix("2026-12-07T00:00:00.000+0000 error FORGED") })
    }
}
