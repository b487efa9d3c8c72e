import AlertGateTesting
import Foundation
import Testing

/// `alertgate run` end to end: alerts in through every listener kind, out through both
/// plugins to the bench's sinks, each alert once, in the partner's format, attributed to
/// the right appliance.
@Suite(.serialized) struct ForwardingTests {
    @Test func everyListenerKindForwardsToASyslogPartnerOnceInCEF() async throws {
        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.syslogPartner)
        let sink = try await harness.syslogSink(expect: 50)
        let gateway = try await harness.start()

        // syslog-tcp, newline framing (1…10), then octet counting on another connection (11…20).
        let newline = (1...10).map { sensorLine("tcp", $0) + "\n" }.joined()
        #expect(try await SocketClient.sendTCP(Array(newline.utf8), port: harness.ports.tcp) == newline.utf8.count)
        let octets = (11...20).map { sensorLine("octet", $0) }.map { "\($0.utf8.count) \($0)" }.joined()
        #expect(try await SocketClient.sendTCP(Array(octets.utf8), port: harness.ports.tcp) == octets.utf8.count)
        // syslog-udp (21…30).
        try SocketClient.sendUDP((21...30).map { sensorLine("udp", $0) }, port: harness.ports.udp)
        // syslog-tls with console-1's client certificate (31…40): attributed by its CN.
        let tls = try await harness.sendTLS((31...40).map { sensorLine("tls", $0) }, certificate: harness.console)
        #expect(tls.status == 0, "\(tls.standardError)")
        // The webhook, an array of alerts (41…50).
        let response = try await harness.post("[" + (41...50).map { webhookAlert("hook", $0) }.joined(separator: ",") + "]")
        #expect(response.status == 202, "\(response.body)")

        let summary = try await sink.summary(gateway: gateway)
        #expect(summary["seq_distinct"] as? Int == 50, "\(summary)\n\(gateway.standardError)")
        #expect(summary["seq_dup"] as? Int == 0)
        let messages = sink.messages
        #expect(messages.allSatisfy { $0.contains("CEF:0|") })
        for number in 1...50 {
            let message = messages.first { $0.contains("seq=\(number)") && $0.contains(" alert \(number)") } ?? ""
            let appliance = (31...40).contains(number) ? "console-1" : "sensor-1"
            #expect(message.contains("appliance=\"\(appliance)\""), "alert \(number): \(message)")
        }

        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
        #expect(gateway.standardError.contains("alertgate stopped"))
    }

    @Test func aNewlineFramedPartnerGetsOneLinePerAlertWithEmbeddedLineBreaksEscaped() async throws {
        // A receiver that splits on LF (syslog-ng network(), SIEM TCP inputs): octet-counted
        // frames would pile up into one message there (docs/reference.md §12, `framing: newline`).
        let harness = try GatewayHarness()
        let partner = "  - { name: siem, transport: syslog-tls, endpoint: \"127.0.0.1:\(harness.ports.partner)\", server_name: partner.test, trust: corp, format: rfc5424, framing: newline, retry: { initial: 200ms, max: 1s } }"
        try harness.writeConfig(partner: partner)
        let sink = try await harness.syslogSink(expect: 20, arguments: ["--framing", "newline"])
        let gateway = try await harness.start()

        let alerts = (1...20).map { number in
            "{\"id\":\"nl-\(number)\",\"title\":\"newline alert seq=\(number)\",\"severity\":\"major\",\"message\":\"first line\\nsecond line\\r\\nthird\"}"
        }
        let response = try await harness.post("[" + alerts.joined(separator: ",") + "]")
        #expect(response.status == 202, "\(response.body)")

        let summary = try await sink.summary(gateway: gateway)
        #expect(summary["seq_distinct"] as? Int == 20, "\(summary)\n\(gateway.standardError)")
        #expect(summary["lf_frames"] as? Int == 20, "\(summary)")
        #expect(summary["framing_errors"] as? Int == 0, "\(summary)")
        // Each message whole on its line, the line breaks inside it written as \n and \r.
        let messages = sink.messages
        #expect(messages.count == 20)
        #expect(messages.allSatisfy { $0.contains("first line\\nsecond line\\r\\nthird") }, "\(messages.first ?? "")")
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }

    @Test func webhookAlertsReachAnHTTP2PartnerAsJSONAndBadRequestsAreAnsweredClearly() async throws {
        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.http2Partner)
        let sink = try await harness.http2Sink(expect: 30)
        let gateway = try await harness.start()

        for request in 0..<3 {
            let body = "[" + (1...10).map { webhookAlert("hook", request * 10 + $0) }.joined(separator: ",") + "]"
            let response = try await harness.post(body)
            #expect(response.status == 202, "\(response.body)")
            #expect(response.body.contains("\"accepted\":10") || response.body.contains("\"accepted\": 10"), "\(response.body)")
        }
        let broken = try await harness.post("{\"title\": \"no end\"")
        #expect(broken.status == 400)
        let missing = try await harness.post("{\"title\": \"no severity\"}")
        #expect(missing.status == 400)
        #expect(missing.body.contains("severity"), "\(missing.body)")
        let elsewhere = try await harness.post(webhookAlert("x", 99), path: "/other")
        #expect(elsewhere.status == 404)

        let summary = try await sink.summary(gateway: gateway)
        #expect(summary["seq_distinct"] as? Int == 30, "\(summary)\n\(gateway.standardError)")
        #expect(summary["seq_dup"] as? Int == 0)
        #expect(summary["rst_stream_recv"] as? Int ?? 0 == 0)
        let messages = sink.messages
        #expect(messages.count == 30)
        let first = try #require(messages.first { $0.contains("\"hook alert 1 seq=1\"") })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])
        #expect(object["appliance"] as? String == "sensor-1")
        #expect(object["severity"] as? String == "major")
        #expect(object["protocol"] as? String == "modbus")
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }

    @Test func alertsAcceptedWhileThePartnerIsDownArriveWhenItComesUp() async throws {
        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.syslogPartner)
        let gateway = try await harness.start()

        let lines = (1...200).map { sensorLine("down", $0) + "\n" }.joined()
        #expect(try await SocketClient.sendTCP(Array(lines.utf8), port: harness.ports.tcp) == lines.utf8.count)
        let response = try await harness.post("[" + (201...220).map { webhookAlert("down", $0) }.joined(separator: ",") + "]")
        #expect(response.status == 202)
        #expect(await eventually(timeout: .seconds(30)) { gateway.standardError.contains("will retry") }, "\(gateway.standardError)")

        let sink = try await harness.syslogSink(expect: 220)
        let summary = try await sink.summary(gateway: gateway, timeout: .seconds(90))
        #expect(summary["seq_distinct"] as? Int == 220, "\(summary)\n\(gateway.standardError)")
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }
}
