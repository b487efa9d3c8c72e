import AlertGateConfig
import AlertGateCore
import AlertGateListeners
import Foundation
import NIOCore
import NIOPosix
import Testing

/// syslog-tcp and syslog-udp with real sockets on 127.0.0.1.
@Suite struct SyslogListenerTests {
    typealias H = ListenerHarness

    static let loopback = H.appliance("plant", source: "127.0.0.0/8")

    static func cef(_ title: String, severity: Int = 8) -> String {
        "<134>CEF:0|Microsoft|Defender for IoT|24.1|\(title.replacingOccurrences(of: " ", with: "-"))|\(title)|\(severity)|src=10.1.2.3 dst=10.1.2.4"
    }

    @Test func tcpWithNewlineFraming() async throws {
        let harness = try await H(listeners: [H.listener("tcp", .syslogTCP)], appliances: [Self.loopback])
        let lines = (1...3).map { Self.cef("Unauthorized PLC write \($0)") }
        try await Sender.tcp(lines.joined(separator: "\n") + "\n", port: harness.port("tcp"))
        let stored = try await harness.intake.waitForStored(3)
        #expect(stored.map(\.title) == ["Unauthorized PLC write 1", "Unauthorized PLC write 2", "Unauthorized PLC write 3"])
        #expect(stored.allSatisfy { $0.appliance == "plant" && $0.severity == .major })
        #expect(try await harness.waitForCounter("alertgate_alerts_received_total", [("listener", "tcp"), ("appliance", "plant")], atLeast: 3) == 3)
        await harness.listeners.stop()
    }

    @Test func tcpWithOctetCountingAndALastLineWithoutNewline() async throws {
        let harness = try await H(listeners: [H.listener("tcp", .syslogTCP)], appliances: [Self.loopback])
        try await Sender.tcp(Sender.octetCounted([Self.cef("Counted one"), Self.cef("Counted\ntwo with a newline inside")]), port: harness.port("tcp"))
        try await Sender.tcp("first line\nlast line without its newline", port: harness.port("tcp"))
        let stored = try await harness.intake.waitForStored(4)
        let titles = Set(stored.map(\.title))
        #expect(titles.contains("Counted one"))
        // One alert: the newline inside the frame does not split it.
        #expect(titles.contains { $0.hasPrefix("Counted") && $0.hasSuffix("two with a newline inside") })
        #expect(titles.contains("first line"))
        #expect(titles.contains("last line without its newline"))
        #expect(stored.count == 4)
        await harness.listeners.stop()
    }

    @Test func udpOneDatagramOneMessage() async throws {
        let harness = try await H(
            listeners: [H.listener("udp", .syslogUDP, maxMessageSize: 1024)], appliances: [Self.loopback])
        try await Sender.udp([Self.cef("Datagram one") + "\n", Self.cef("Datagram two"), String(repeating: "x", count: 2000)], port: harness.port("udp"))
        let stored = try await harness.intake.waitForStored(2)
        #expect(Set(stored.map(\.title)) == ["Datagram one", "Datagram two"])
        #expect(stored.allSatisfy { $0.appliance == "plant" })
        #expect(try await harness.waitForCounter("alertgate_ingest_errors_total", [("listener", "udp"), ("reason", "oversize")], atLeast: 1) == 1)
        await harness.listeners.stop()
    }

    @Test func aSenderMatchingNoApplianceIsCountedAndClosed() async throws {
        let harness = try await H(
            listeners: [H.listener("tcp", .syslogTCP), H.listener("tcp-default", .syslogTCP, defaultAppliance: "fallback")],
            appliances: [H.appliance("elsewhere", source: "10.9.0.0/16"), H.appliance("fallback")])
        // The gateway may close before the sender is done: that is the point.
        try? await Sender.tcp(Self.cef("Nobody's alert") + "\n", port: harness.port("tcp"))
        try await Sender.tcp(Self.cef("Default's alert") + "\n", port: harness.port("tcp-default"))
        let stored = try await harness.intake.waitForStored(1)
        #expect(stored.map(\.title) == ["Default's alert"])
        #expect(stored.map(\.appliance) == ["fallback"])
        #expect(try await harness.waitForCounter("alertgate_ingest_errors_total", [("listener", "tcp"), ("reason", "unattributed")], atLeast: 1) == 1)
        await harness.listeners.stop()
    }

    @Test func garbageIsCountedAndGoodAlertsStillArrive() async throws {
        let harness = try await H(listeners: [H.listener("tcp", .syslogTCP)], appliances: [Self.loopback])
        let port = harness.port("tcp")
        // A 1 MiB line, a line that is not UTF-8, then a good one, on one connection.
        var bytes = Array(repeating: UInt8(ascii: "A"), count: 1 << 20) + [UInt8(ascii: "\n")]
        bytes += Array("bad \u{1}bytes: ".utf8) + [0xC3, 0x28, 0xFF] + Array(" end\n".utf8)
        bytes += Array((Self.cef("After the garbage") + "\n").utf8)
        try await Sender.tcp(bytes, port: port)
        // An octet-counted frame cut short by the end of the stream.
        try await Sender.tcp("120 <134>CEF:0|truncated", port: port)
        // And a new connection works as ever.
        try await Sender.tcp(Sender.octetCounted([Self.cef("New connection")]), port: port)

        let stored = try await harness.intake.waitForStored(3)
        let titles = stored.map(\.title)
        #expect(titles.contains("After the garbage"))
        #expect(titles.contains("New connection"))
        // The invalid UTF-8 is forwarded, with U+FFFD in place of the bad bytes.
        #expect(titles.contains { $0.hasPrefix("bad") && $0.contains("\u{FFFD}") })
        #expect(stored.count == 3)
        #expect(try await harness.waitForCounter("alertgate_ingest_errors_total", [("listener", "tcp"), ("reason", "broken-frame")], atLeast: 1) == 1)
        #expect(harness.counter("alertgate_ingest_errors_total", [("listener", "tcp"), ("reason", "oversize")]) == 1)
        #expect(harness.counter("alertgate_ingest_errors_total", [("listener", "tcp"), ("reason", "invalid-utf8")]) == 1)
        #expect(try await harness.waitForCounter("alertgate_alerts_received_total", [("listener", "tcp"), ("appliance", "plant")], atLeast: 3) == 3)
        await harness.listeners.stop()
    }

    @Test func aFullSpoolHoldsTheSenderAndLosesNothing() async throws {
        let full = IntakeOutcome.full(retryAfter: .milliseconds(100))
        let harness = try await H(listeners: [H.listener("tcp", .syslogTCP)], appliances: [Self.loopback], answers: [full, full, full])
        let count = 3_000
        let text = (1...count).map { Self.cef("Alert \($0)") + "\n" }.joined()
        try await Sender.tcp(text, port: harness.port("tcp"))
        let stored = try await harness.intake.waitForStored(count)
        // Exactly once each, in order.
        #expect(stored.map(\.title) == (1...count).map { "Alert \($0)" })
        let offered = await harness.intake.offered
        // The batch refused three times was offered again, unchanged, and then stored.
        #expect(offered.count >= 4)
        #expect(offered[0].map(\.id) == offered[1].map(\.id))
        #expect(offered[0].map(\.id) == offered[3].map(\.id))
        #expect(offered[4...].allSatisfy { $0.first?.title != offered[0].first?.title })
        #expect(harness.counter("alertgate_ingest_errors_total", [("listener", "tcp"), ("reason", "spool-full")]) == 3)
        #expect(try await harness.waitForCounter("alertgate_alerts_received_total", [("listener", "tcp"), ("appliance", "plant")], atLeast: Int64(count)) == Int64(count))
        await harness.listeners.stop()
    }

    @Test func aFailingSpoolClosesTheConnection() async throws {
        let harness = try await H(listeners: [H.listener("tcp", .syslogTCP)], appliances: [Self.loopback], answers: [.failed(reason: "disk I/O error")])
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: harness.port("tcp")).get()
        try await channel.writeAndFlush(ByteBuffer(string: Self.cef("Not stored") + "\n"))
        // The gateway closes: what was not stored must not look acknowledged.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await channel.closeFuture.get() }
            group.addTask {
                try await Task.sleep(for: .seconds(60))
                throw CancellationError()
            }
            try await group.next()
            group.cancelAll()
        }
        #expect(await harness.intake.stored.isEmpty)
        #expect(harness.counter("alertgate_ingest_errors_total", [("listener", "tcp"), ("reason", "spool-failed")]) == 1)
        await harness.listeners.stop()
    }

    @Test func stoppingLetsTheBatchInFlightFinishAndStopsAccepting() async throws {
        let harness = try await H(
            listeners: [H.listener("tcp", .syslogTCP)], appliances: [Self.loopback], answers: [.full(retryAfter: .milliseconds(500))])
        let port = harness.port("tcp")
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: Self.cef("In flight at stop") + "\n"))
        let deadline = ContinuousClock.now + .seconds(60)
        while await harness.intake.offered.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        // The intake answered .full: the batch is waiting for its second offer.
        await harness.listeners.stop(gracePeriod: .seconds(30))
        #expect(await harness.intake.stored.map(\.title) == ["In flight at stop"])
        #expect(await harness.intake.offered.count == 2)
        // The connection was closed by the gateway once its batch was stored.
        try await channel.closeFuture.get()
        await #expect(throws: (any Error).self) {
            try await Sender.tcp("too late\n", port: port)
        }
    }

    @Test func aBusyAddressIsAnErrorNamingTheListener() async throws {
        let first = try await H(listeners: [H.listener("tcp", .syslogTCP)], appliances: [Self.loopback])
        var taken = H.listener("second", .syslogTCP)
        taken.listen.port = first.port("tcp")
        await #expect {
            _ = try await H(listeners: [taken], appliances: [Self.loopback])
        } throws: { error in
            guard let error = error as? ListenerError else { return false }
            return error.description.contains("listener second") && error.description.contains("127.0.0.1:\(first.port("tcp"))")
        }
        await first.listeners.stop()
    }
}
