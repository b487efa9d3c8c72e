import AlertGateTesting
import Foundation
import Testing

/// What must not lose an alert: `kill -9` mid-stream, garbage from senders, a full spool.
@Suite(.serialized) struct ResilienceTests {
    /// The `seq=N` numbers in a sink's messages, with repeats.
    func sequenceNumbers(_ messages: [String]) -> [Int] {
        messages.compactMap { message in
            guard let range = message.range(of: #"seq=[0-9]+"#, options: .regularExpression) else { return nil }
            return Int(message[range].dropFirst(4))
        }
    }

    /// A sink that exits on its own once data stopped for a while (its file is then
    /// complete); killed after `timeout` when it never got any.
    func messages(of sink: BenchSink, timeout: Duration = .seconds(30)) async -> [String] {
        _ = try? await sink.summary(timeout: timeout)
        return sink.messages
    }

    @Test func killMinus9MidStreamLosesNothingTheWebhookAcknowledged() async throws {
        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.http2Partner)
        let first = try await harness.http2Sink(arguments: ["--idle-exit", "2"])
        let gateway = try await harness.start()

        var acknowledged: [Int] = []
        for request in 0..<12 {
            let numbers = (request * 25 + 1)...(request * 25 + 25)
            let response = try await harness.post("[" + numbers.map { webhookAlert("kill", $0) }.joined(separator: ",") + "]")
            #expect(response.status == 202)
            acknowledged += numbers
        }
        // Killed right after its last 202: some alerts were delivered, some in flight, some only on disk.
        gateway.signal(SIGKILL)
        _ = try await gateway.waitForExit()
        let before = await messages(of: first)

        let second = try await harness.http2Sink(arguments: ["--idle-exit", "2"])
        let restarted = try await harness.start()
        let after = await messages(of: second, timeout: .seconds(20))
        restarted.signal(SIGTERM)
        #expect(try await restarted.waitForExit() == 0)

        let received = sequenceNumbers(before) + sequenceNumbers(after)
        let missing = Set(acknowledged).subtracting(received)
        #expect(missing.isEmpty, "lost \(missing.count) acknowledged alerts: \(missing.sorted().prefix(20))\n\(restarted.standardError)")
        // At least once: what was in flight at the kill may come twice, nothing else.
        let duplicates = received.count - Set(received).count
        #expect(duplicates <= acknowledged.count)
    }

    @Test func garbageLeavesTheGatewayUpAndGoodAlertsStillArrive() async throws {
        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.syslogPartner)
        let sink = try await harness.syslogSink(expect: 10)
        let gateway = try await harness.start()

        // One connection: a 1 MiB line, a line that is not UTF-8, then a good alert.
        var bytes = [UInt8](repeating: UInt8(ascii: "A"), count: 1 << 20) + [0x0A]
        bytes += Array("<134>1 2026-11-30T08:15:30Z plc-sensor ot - - - broken ".utf8) + [0xC3, 0x28, 0xFF, 0x0A]
        bytes += Array((sensorLine("garbage", 1) + "\n").utf8)
        #expect(try await SocketClient.sendTCP(bytes, port: harness.ports.tcp) == bytes.count)
        // An octet-counted frame cut short by the sender's close.
        _ = try await SocketClient.sendTCP(Array("500 <134>1 2026-11-30T08:15:30Z cut short".utf8), port: harness.ports.tcp)
        // Malformed webhook bodies.
        #expect(try await harness.post("{\"title\": ").status == 400)
        #expect(try await harness.post("[{\"severity\": \"major\"}]").status == 400)

        let good = (2...5).map { sensorLine("good", $0) + "\n" }.joined()
        #expect(try await SocketClient.sendTCP(Array(good.utf8), port: harness.ports.tcp) == good.utf8.count)
        #expect(try await harness.post("[" + (6...10).map { webhookAlert("good", $0) }.joined(separator: ",") + "]").status == 202)

        let summary = try await sink.summary(gateway: gateway)
        #expect(summary["seq_distinct"] as? Int == 10, "\(summary)")
        #expect(gateway.process.isRunning)
        let log = gateway.standardError
        #expect(log.contains("over max_message_size"), "\(log)")
        #expect(log.contains("not valid UTF-8"))
        #expect(log.contains("broken octet-counted frame") || log.contains("cut short"))
        // The message that was not UTF-8 is forwarded anyway, its bad bytes replaced.
        #expect(sink.messages.contains { $0.contains("broken \u{FFFD}(") })
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }

    @Test func aFullSpoolAnswers503PushesBackOnSyslogSendersAndLosesNothingAccepted() async throws {
        let harness = try GatewayHarness()
        try harness.writeConfig(partner: harness.syslogPartner, spoolMaxSize: "1MiB")
        let gateway = try await harness.start()

        // The partner is down: the webhook fills the spool, then is told to come back later.
        var acknowledged: [Int] = []
        var refusal: GatewayHarness.Response?
        for request in 0..<400 {
            let numbers = (request * 50 + 1)...(request * 50 + 50)
            let response = try await harness.post("[" + numbers.map { webhookAlert("full", $0) }.joined(separator: ",") + "]")
            if response.status == 202 {
                acknowledged += numbers
            } else {
                refusal = response
                break
            }
        }
        let full = try #require(refusal)
        #expect(full.status == 503)
        #expect(full.headers.lowercased().contains("retry-after:"), "\(full.headers)")
        #expect(!acknowledged.isEmpty)

        // A syslog sender is not read from while the spool is full: its sends stall.
        let lines = (100_001...160_000).map { sensorLine("pushed", $0) + "\n" }.joined()
        let sent = try await SocketClient.sendTCP(Array(lines.utf8), port: harness.ports.tcp, timeout: .seconds(5))
        #expect(sent < lines.utf8.count)
        #expect(gateway.process.isRunning)

        // The partner comes up: everything acknowledged arrives, and the stalled stream too.
        let sink = try await harness.syslogSink(arguments: ["--idle-exit", "3"])
        let received = Set(sequenceNumbers(await messages(of: sink, timeout: .seconds(120))))
        let missing = Set(acknowledged).subtracting(received)
        #expect(missing.isEmpty, "lost \(missing.count) acknowledged alerts\n\(gateway.standardError.suffix(3000))")
        let wholeLines = String(decoding: Array(lines.utf8).prefix(sent), as: UTF8.self).split(separator: "\n").dropLast().count
        let stalled = Set(100_001...(100_000 + wholeLines))
        #expect(stalled.subtracting(received).isEmpty, "\(stalled.subtracting(received).count) of \(wholeLines) syslog alerts missing\n\(gateway.standardError.suffix(3000))")
        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
    }
}
