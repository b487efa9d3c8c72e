import AlertGateTesting
import Foundation

/// A gateway as an operator runs it: a folder with certificates made by the openssl CLI,
/// a config.yaml with one listener of each kind on free loopback ports, and the
/// `alertgate` binary started on it. Partners are real processes the tests start (the
/// bench's `tlssink` and `h2sink`, `openssl s_server`).
final class GatewayHarness: @unchecked Sendable {
    struct Ports {
        var tcp: Int
        var udp: Int
        var tls: Int
        var webhook: Int
        var partner: Int
        var admin: Int
    }

    let pki: TestPKI
    let folder: URL
    let ports: Ports
    /// The partner's certificate (CN and SAN partner.test, SAN IP 127.0.0.1) with its chain.
    let partnerChain: URL
    let partnerKey: URL
    /// An appliance certificate for a console that sends over TLS (CN console-1.contoso.com).
    let console: TestPKI.Issued

    init() throws {
        pki = try TestPKI()
        folder = try pki.gatewayFolder()
        let certs = folder.appendingPathComponent("certs")
        var listener = TestPKI.Options(commonName: "gateway.test")
        listener.subjectAlternativeNames = ["DNS:gateway.test", "IP:127.0.0.1"]
        let gateway = try pki.issue("gateway", listener)
        try FileManager.default.copyItem(at: gateway.certificate, to: certs.appendingPathComponent("gateway.crt"))
        try FileManager.default.copyItem(at: gateway.key, to: certs.appendingPathComponent("gateway.key"))
        console = try pki.issue("console-1", commonName: "console-1.contoso.com")
        try FileManager.default.copyItem(at: console.certificate, to: certs.appendingPathComponent("console-1.crt"))
        try FileManager.default.copyItem(at: console.key, to: certs.appendingPathComponent("console-1.key"))

        var partnerOptions = TestPKI.Options(commonName: "partner.test")
        partnerOptions.subjectAlternativeNames = ["DNS:partner.test", "IP:127.0.0.1"]
        let partner = try pki.issue("partner", partnerOptions)
        partnerKey = partner.key
        partnerChain = pki.directory.appendingPathComponent("partner-chain.pem")
        try (String(contentsOf: partner.certificate, encoding: .utf8) + String(contentsOf: pki.chainFile, encoding: .utf8))
            .write(to: partnerChain, atomically: true, encoding: .utf8)
        ports = Ports(tcp: try FreePort.find(), udp: try FreePort.find(), tls: try FreePort.find(), webhook: try FreePort.find(), partner: try FreePort.find(), admin: try FreePort.find())
    }

    var configFile: URL { folder.appendingPathComponent("config.yaml") }
    var dataFolder: URL { folder.appendingPathComponent("data") }

    /// Writes config.yaml: sensor-1 (by source 127.0.0.0/8) and console-1 (by client CN)
    /// send through every listener kind to one partner, unless `appliances` and
    /// `listeners` say otherwise.
    func writeConfig(
        partner: String, rules: String = "  - name: all\n    partners: [siem]\n", spoolMaxSize: String = "1GiB", validation: String = "required",
        watch: Bool = false, crlMaxAge: String = "1h", appliances: String? = nil, listeners: String? = nil, trustCRL: String? = nil
    ) throws {
        let text = """
            gateway:
              data_dir: data
              admin: "127.0.0.1:\(ports.admin)"
              validation: \(validation)
              spool: { max_size: \(spoolMaxSize) }
            store:
              dir: certs
              watch: \(watch)
              crl: { max_age: \(crlMaxAge) }
              trust:
                - name: corp
                  file: chain.pem\(trustCRL.map { "\n      crl: \($0)" } ?? "")
              certificates:
                - { name: sensor-1, cert: sensor-1.crt, key: sensor-1.key, chain: chain.pem }
                - { name: console-1, cert: console-1.crt, key: console-1.key, chain: chain.pem }
                - { name: gateway, cert: gateway.crt, key: gateway.key, chain: chain.pem }
            appliances:
            \(appliances ?? defaultAppliances)
            listeners:
            \(listeners ?? defaultListeners)
            partners:
            \(partner)
            rules:
            \(rules)
            """
        try text.write(to: configFile, atomically: true, encoding: .utf8)
    }

    /// sensor-1 by source, console-1 by CN (config.yaml's `appliances:` entries).
    func appliances(sensor1Match: String = "{ source: 127.0.0.0/8 }", console1Match: String = "{ cn: console-1.contoso.com }") -> String {
        """
          - { name: sensor-1, kind: sensor, certificate: sensor-1, match: \(sensor1Match) }
          - { name: console-1, kind: console, certificate: console-1, match: \(console1Match) }
        """
    }

    var defaultAppliances: String { appliances() }

    /// One listener of each kind (config.yaml's `listeners:` entries).
    var defaultListeners: String {
        """
          - { name: in-tcp, protocol: syslog-tcp, listen: "127.0.0.1:\(ports.tcp)" }
          - { name: in-udp, protocol: syslog-udp, listen: "127.0.0.1:\(ports.udp)" }
          - { name: in-tls, protocol: syslog-tls, listen: "127.0.0.1:\(ports.tls)", certificate: gateway, client_auth: optional }
          - { name: hooks, protocol: webhook, listen: "127.0.0.1:\(ports.webhook)", path: /alerts, certificate: gateway, client_auth: optional }
        """
    }

    /// A syslog-tls partner entry named `name` on `port`.
    func syslogPartner(_ name: String, port: Int) -> String {
        "  - { name: \(name), transport: syslog-tls, endpoint: \"127.0.0.1:\(port)\", server_name: partner.test, trust: corp, format: cef, retry: { initial: 200ms, max: 1s } }"
    }

    /// A partner that records each connection's client certificate, on `ports.partner`.
    func recordingPartner(port: Int? = nil) async throws -> RecordingTLSReceiver {
        try await RecordingTLSReceiver(certificate: partnerChain, key: partnerKey, clientCA: pki.chainFile, port: port ?? ports.partner)
    }

    /// Puts `issued` in place of the appliance sensor-1's certificate and key, each file
    /// replaced whole (written beside, then renamed), as an operator's tooling does.
    func rotateApplianceCertificate(to issued: TestPKI.Issued) throws {
        let certs = folder.appendingPathComponent("certs")
        for (source, name) in [(issued.key, "sensor-1.key"), (issued.certificate, "sensor-1.crt")] {
            let staged = certs.appendingPathComponent(".\(name).new")
            try? FileManager.default.removeItem(at: staged)
            try FileManager.default.copyItem(at: source, to: staged)
            guard rename(staged.path, certs.appendingPathComponent(name).path) == 0 else {
                throw BenchTool.Failure(description: "cannot rename \(staged.path)")
            }
        }
    }

    /// A certificate's serial as `openssl x509 -serial` prints it, without leading zeros.
    func serial(of certificate: URL) throws -> String {
        let line = try OpenSSLCLI.run(["x509", "-in", certificate.path, "-noout", "-serial"])
        return Self.normalized(String(line.split(separator: "=").last ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func normalized(_ serial: String) -> String {
        let trimmed = serial.uppercased().drop { $0 == "0" }
        return trimmed.isEmpty ? "0" : String(trimmed)
    }

    /// A syslog-tls partner entry on `ports.partner`, named `siem`.
    var syslogPartner: String {
        "  - { name: siem, transport: syslog-tls, endpoint: \"127.0.0.1:\(ports.partner)\", server_name: partner.test, trust: corp, format: cef, retry: { initial: 200ms, max: 1s } }"
    }

    /// An HTTP/2 partner entry on `ports.partner`, named `siem`.
    var http2Partner: String {
        "  - { name: siem, transport: http2, endpoint: \"https://127.0.0.1:\(ports.partner)/ingest\", server_name: partner.test, trust: corp, format: json, batch: { max_alerts: 100, max_delay: 20ms }, retry: { initial: 200ms, max: 1s } }"
    }

    /// Starts `alertgate run` and waits until it listens.
    func start(environment: [String: String] = [:]) async throws -> RunningProcess {
        let process = try RunningProcess(AlertGateBinary.path, ["run", "--config", configFile.path], environment: environment)
        try await process.waitForOutput(containing: "alertgate running", timeout: .seconds(60))
        return process
    }

    func syslogSink(expect: Int? = nil, arguments: [String] = []) async throws -> BenchSink {
        try await BenchSink(.syslogTLS, certificateChain: partnerChain, key: partnerKey, clientCA: pki.chainFile, port: ports.partner, expect: expect, arguments: arguments)
    }

    func http2Sink(expect: Int? = nil, arguments: [String] = []) async throws -> BenchSink {
        try await BenchSink(.http2, certificateChain: partnerChain, key: partnerKey, clientCA: pki.chainFile, port: ports.partner, expect: expect, arguments: arguments)
    }

    // MARK: Senders

    struct Response {
        var status: Int
        var body: String
        var headers: String
    }

    /// POSTs `body` to the webhook with curl (checking the gateway's certificate), with
    /// sensor-1's certificate: its CN matches no appliance, so the address attributes it to
    /// sensor-1, whose `validation: required` refuses clients without one (docs/reference.md §11).
    func post(_ body: String, path: String = "/alerts") async throws -> Response {
        let bodyFile = pki.directory.appendingPathComponent("body-\(UUID().uuidString).json")
        let headerFile = pki.directory.appendingPathComponent("headers-\(UUID().uuidString).txt")
        try body.write(to: bodyFile, atomically: true, encoding: .utf8)
        defer {
            try? FileManager.default.removeItem(at: bodyFile)
            try? FileManager.default.removeItem(at: headerFile)
        }
        let result = try await ProcessRunner.captureDetached("/usr/bin/curl", [
            "-sS", "--max-time", "30", "--cacert", pki.chainFile.path, "-H", "Content-Type: application/json",
            "--cert", folder.appendingPathComponent("certs/sensor-1.crt").path, "--key", folder.appendingPathComponent("certs/sensor-1.key").path,
            "--data-binary", "@\(bodyFile.path)", "-D", headerFile.path, "-w", "\n%{http_code}",
            "https://127.0.0.1:\(ports.webhook)\(path)",
        ])
        let lines = result.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
        guard result.status == 0, let code = lines.last.flatMap({ Int($0) }) else {
            throw BenchTool.Failure(description: "curl failed (\(result.status)): \(result.standardError)")
        }
        return Response(status: code, body: lines.dropLast().joined(separator: "\n"), headers: (try? String(contentsOf: headerFile, encoding: .utf8)) ?? "")
    }

    /// GETs (or POSTs) a path of the admin API with curl: status code and body.
    func admin(_ path: String, method: String = "GET") async throws -> Response {
        let result = try await ProcessRunner.captureDetached("/usr/bin/curl", [
            "-sS", "--max-time", "60", "-X", method, "-w", "\n%{http_code}", "http://127.0.0.1:\(ports.admin)\(path)",
        ])
        let lines = result.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
        guard result.status == 0, let code = lines.last.flatMap({ Int($0) }) else {
            throw BenchTool.Failure(description: "curl failed (\(result.status)): \(result.standardError)")
        }
        return Response(status: code, body: lines.dropLast().joined(separator: "\n"), headers: "")
    }

    /// Sends newline-framed lines over syslog-tls with `openssl s_client`, presenting
    /// `certificate` when given.
    func sendTLS(_ lines: [String], certificate: TestPKI.Issued?) async throws -> ProcessRunner.Result {
        let arguments = tlsClientArguments(certificate: certificate) + ["-no_ign_eof"]
        return try await ProcessRunner.captureDetached("/usr/bin/openssl", arguments, input: lines.map { $0 + "\n" }.joined(), timeout: 60)
    }

    /// A syslog-tls sender that stays connected while its standard input is open
    /// (`RunningProcess.write`); it exits when the gateway closes the connection.
    func connectTLS(certificate: TestPKI.Issued) throws -> RunningProcess {
        try RunningProcess("/usr/bin/openssl", tlsClientArguments(certificate: certificate))
    }

    private func tlsClientArguments(certificate: TestPKI.Issued?) -> [String] {
        var arguments = ["s_client", "-connect", "127.0.0.1:\(ports.tls)", "-CAfile", pki.chainFile.path, "-verify_return_error", "-quiet"]
        if let certificate {
            arguments += ["-cert", certificate.certificate.path, "-key", certificate.key.path, "-cert_chain", pki.chainFile.path]
        }
        return arguments
    }
}

extension BenchSink {
    /// The sink's summary; when it never comes, the error carries the gateway's log too.
    func summary(gateway: RunningProcess, timeout: Duration = .seconds(60)) async throws -> [String: Any] {
        do {
            return try await summary(timeout: timeout)
        } catch {
            throw BenchTool.Failure(description: "\(error)\n--- gateway log ---\n\(gateway.standardError)")
        }
    }
}

/// A syslog line as a sensor sends it: RFC 5424 with a CEF payload whose title and
/// `seq=` make it recognisable at the partner.
func sensorLine(_ tag: String, _ number: Int, severity: Int = 8) -> String {
    "<134>1 2026-11-30T08:15:30.000Z plc-sensor ot - - - CEF:0|Acme|OT Sensor|4.2|1001|\(tag) alert \(number)|\(severity)|src=10.1.0.5 dst=10.1.0.20 msg=Unauthorized write seq=\(number)"
}

/// A webhook alert object.
func webhookAlert(_ tag: String, _ number: Int) -> String {
    "{\"id\":\"\(tag)-\(number)\",\"title\":\"\(tag) alert \(number) seq=\(number)\",\"severity\":\"major\",\"protocol\":\"modbus\"}"
}

/// Polls `condition` until it holds or `timeout` passes; looks once more after the deadline.
func eventually(timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return try await condition()
}
