import AlertGateConfig
import AlertGateCore
import AlertGateListeners
import AlertGateTesting
import Foundation
import Testing

/// The HTTPS webhook with `curl` as the client.
@Suite struct WebhookListenerTests {
    typealias H = ListenerHarness

    struct Response {
        var status: Int
        var headers: String
        var body: String
    }

    static let host = "gateway.contoso.com"

    static func curlArguments(_ harness: H, listener: String, certificate: TestPKI.Issued?) -> [String] {
        let port = harness.port(listener)
        var arguments = ["-sS", "--max-time", "60", "--cacert", harness.pki.rootCertificate.path, "--resolve", "\(host):\(port):127.0.0.1"]
        if let certificate {
            arguments += ["--cert", certificate.certificate.path, "--key", certificate.key.path]
        }
        return arguments
    }

    static func request(
        _ harness: H, listener: String = "hooks", path: String = "/alerts", method: String = "POST", body: String? = nil,
        certificate: TestPKI.Issued? = nil, extraArguments: [String] = []
    ) async throws -> Response {
        let port = harness.port(listener)
        var arguments = curlArguments(harness, listener: listener, certificate: certificate) + extraArguments
        arguments += ["-i", "-X", method, "-H", "Content-Type: application/json", "-w", "\n@status=%{http_code}"]
        if let body { arguments += ["--data-binary", body] }
        arguments.append("https://\(host):\(port)\(path)")
        let result = try await ProcessRunner.captureDetached("/usr/bin/curl", arguments, timeout: 90)
        let output = result.standardOutput
        guard let marker = output.range(of: "\n@status=", options: .backwards) else {
            Issue.record("curl said: \(result.standardError)")
            return Response(status: 0, headers: "", body: "")
        }
        let status = Int(output[marker.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let message = String(output[..<marker.lowerBound])
        let split = message.range(of: "\r\n\r\n")
        return Response(
            status: status,
            headers: split.map { String(message[..<$0.lowerBound]) } ?? message,
            body: split.map { String(message[$0.upperBound...]) } ?? "")
    }

    static func harness(answers: [IntakeOutcome] = [], maxMessageSize: Int = 64 * 1024) async throws -> H {
        try await H(
            listeners: [H.listener("hooks", .webhook, clientAuth: .optional, path: "/alerts", maxMessageSize: maxMessageSize)],
            appliances: [H.appliance("console", cn: "console.contoso.com"), H.appliance("plant", source: "127.0.0.0/8", validation: .none)],
            answers: answers)
    }

    @Test func oneAlertAndAnArrayAreAcceptedAfterTheIntakeStoredThem() async throws {
        let harness = try await Self.harness()
        let one = try await Self.request(harness, body: #"{"title": "PLC program download", "severity": "major", "protocol": "s7comm"}"#)
        #expect(one.status == 202)
        #expect(one.body.contains(#""accepted": 1"#))

        let console = try harness.pki.issue("console", commonName: "console.contoso.com")
        let array = try await Self.request(
            harness, body: #"[{"title": "Scan detected", "severity": "minor"}, {"title": "New asset", "severity": "warning"}]"#, certificate: console)
        #expect(array.status == 202)
        #expect(array.body.contains(#""accepted": 2"#))

        let stored = await harness.intake.stored
        #expect(stored.map(\.title) == ["PLC program download", "Scan detected", "New asset"])
        // By source address without a certificate; by CN with one.
        #expect(stored.map(\.appliance) == ["plant", "console", "console"])
        #expect(harness.counter("alertgate_alerts_received_total", [("listener", "hooks"), ("appliance", "console")]) == 2)
        await harness.listeners.stop()
    }

    @Test func badRequestsAreAnsweredWithWhatIsWrong() async throws {
        let harness = try await Self.harness()
        let badJSON = try await Self.request(harness, body: #"{"title": "x", "severity": "#)
        #expect(badJSON.status == 400)
        #expect(badJSON.body.contains("bad JSON"), "\(badJSON.body)")

        let missing = try await Self.request(harness, body: #"[{"title": "ok", "severity": "major"}, {"title": "no severity"}]"#)
        #expect(missing.status == 400)
        #expect(missing.body.contains(#"alert 1: missing \"severity\""#), "\(missing.body)")

        let wrongPath = try await Self.request(harness, path: "/nope", body: #"{"title": "x", "severity": "major"}"#)
        #expect(wrongPath.status == 404)
        #expect(wrongPath.body.contains("/alerts"))

        let get = try await Self.request(harness, method: "GET")
        #expect(get.status == 405)
        #expect(get.headers.lowercased().contains("allow: post"))

        #expect(await harness.intake.offered.isEmpty)
        #expect(harness.counter("alertgate_ingest_errors_total", [("listener", "hooks"), ("reason", "bad-request")]) == 2)
        await harness.listeners.stop()
    }

    @Test func aFullSpoolAnswers503WithRetryAfterAndTheListenerStaysUp() async throws {
        let harness = try await Self.harness(answers: [.full(retryAfter: .milliseconds(1_500)), .failed(reason: "disk I/O error")])
        let full = try await Self.request(harness, body: #"{"title": "First try", "severity": "critical"}"#)
        #expect(full.status == 503)
        #expect(full.headers.lowercased().contains("retry-after: 2"), "\(full.headers)")
        let failed = try await Self.request(harness, body: #"{"title": "Second try", "severity": "critical"}"#)
        #expect(failed.status == 500)
        #expect(failed.body.contains("disk I/O error"))
        let stored = try await Self.request(harness, body: #"{"title": "Third try", "severity": "critical"}"#)
        #expect(stored.status == 202)
        #expect(await harness.intake.stored.map(\.title) == ["Third try"])
        await harness.listeners.stop()
    }

    @Test func keepAliveServesSeveralRequestsOnOneConnection() async throws {
        let harness = try await Self.harness()
        let url = "https://\(Self.host):\(harness.port("hooks"))/alerts"
        var arguments = Self.curlArguments(harness, listener: "hooks", certificate: nil)
        arguments += ["-w", "%{http_code} %{num_connects}\n", "-H", "Content-Type: application/json",
                      "--data-binary", #"{"title": "Kept alive", "severity": "major"}"#]
        // curl pairs each -o with one URL.
        for _ in 1...3 { arguments += ["-o", "/dev/null", url] }
        let result = try await ProcessRunner.captureDetached("/usr/bin/curl", arguments, timeout: 90)
        // One connection made for the first request, none for the two after it.
        #expect(result.standardOutput.split(separator: "\n") == ["202 1", "202 0", "202 0"], "\(result.standardError)")
        #expect(await harness.intake.stored.count == 3)
        await harness.listeners.stop()
    }

    @Test func anUnknownSenderIs403AndAnOversizeBody413() async throws {
        let harness = try await H(
            listeners: [H.listener("hooks", .webhook, clientAuth: .optional, path: "/alerts", maxMessageSize: 1024)],
            appliances: [H.appliance("console", cn: "console.contoso.com")])
        let unknown = try await Self.request(harness, body: #"{"title": "Who am I", "severity": "major"}"#)
        #expect(unknown.status == 403)
        #expect(unknown.body.contains("matches no appliance"))
        #expect(harness.counter("alertgate_ingest_errors_total", [("listener", "hooks"), ("reason", "unattributed")]) == 1)

        let console = try harness.pki.issue("console", commonName: "console.contoso.com")
        // The limit is 16 × max_message_size: 16 KiB here.
        let big = #"{"title": "Big", "severity": "major", "message": ""# + String(repeating: "x", count: 20_000) + #""}"#
        let tooBig = try await Self.request(harness, body: big, certificate: console)
        #expect(tooBig.status == 413)
        #expect(tooBig.body.contains("16384"))
        let fits = try await Self.request(harness, body: #"{"title": "Small", "severity": "major"}"#, certificate: console)
        #expect(fits.status == 202)
        #expect(await harness.intake.stored.map(\.title) == ["Small"])
        await harness.listeners.stop()
    }

    @Test func aClientWaitingFor100ContinueGetsIt() async throws {
        let harness = try await Self.harness()
        // Without the 100 the client would wait out its 120 s and the request its 60 s limit.
        let response = try await Self.request(
            harness, body: #"{"title": "Expecting", "severity": "major"}"#,
            extraArguments: ["-H", "Expect: 100-continue", "--expect100-timeout", "120"])
        #expect(response.status == 202)
        #expect(await harness.intake.stored.map(\.title) == ["Expecting"])
        await harness.listeners.stop()
    }
}
