import AlertGateConfig
import AlertGateCore
import AlertGatePKI
@testable import AlertGateTLS
import AlertGateTesting
import Logging
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import AlertGateListeners

/// docs/reference.md §11 with real sockets: connection limits, timeouts, refusals counted and logged
/// at most once a second, the webhook's head limit and token, UDP rate limits.
@Suite struct ListenerLimitsTests {
    typealias H = ListenerHarness

    static let loopback = H.appliance("plant", source: "127.0.0.0/8")

    static func listener(_ name: String, _ kind: ListenerProtocol, clientAuth: ClientAuth = .none, path: String = "/", change: (inout ListenerConfig) -> Void) -> ListenerConfig {
        var config = H.listener(name, kind, clientAuth: clientAuth, path: path)
        change(&config)
        return config
    }

    /// A TCP connection that stays open until either side closes it.
    static func open(port: Int, from source: String = "127.0.0.1") async throws -> any Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(to: try SocketAddress(ipAddress: source, port: 0))
            .connect(host: "127.0.0.1", port: port).get()
    }

    /// Waits until the gateway closed `channel` (a fixed bound: failing is the test failing).
    static func waitClosed(_ channel: any Channel, timeout: Duration = .seconds(30)) async throws -> Bool {
        try await firstClosed([channel], timeout: timeout) != nil
    }

    /// The index of the first of `channels` to close, nil if none does within `timeout`.
    static func firstClosed(_ channels: [any Channel], timeout: Duration = .seconds(30)) async throws -> Int? {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let promise = loop.makePromise(of: Int?.self)
        // Whichever comes first completes it; a promise completes once.
        let pending = NIOLockedValueBox<EventLoopPromise<Int?>?>(promise)
        let complete: @Sendable (Int?) -> Void = { value in
            pending.withLockedValue { promise in
                promise?.succeed(value)
                promise = nil
            }
        }
        for (index, channel) in channels.enumerated() {
            channel.closeFuture.whenComplete { _ in complete(index) }
        }
        loop.scheduleTask(in: TimeAmount(timeout)) { complete(nil) }
        return try await promise.futureResult.get()
    }

    static func refused(_ harness: H, _ listener: String, _ reason: ConnectionRefusal) -> Int64 {
        harness.counter("alertgate_connections_refused_total", [("listener", listener), ("reason", reason.rawValue)])
    }

    static func waitRefused(_ harness: H, _ listener: String, _ reason: ConnectionRefusal, atLeast value: Int64) async throws -> Int64 {
        try await harness.waitForCounter("alertgate_connections_refused_total", [("listener", listener), ("reason", reason.rawValue)], atLeast: value)
    }

    // MARK: Connection limits

    @Test func pastMaxConnectionsANewConnectionIsClosedAtOnceAndCounted() async throws {
        let harness = try await H(listeners: [Self.listener("tcp", .syslogTCP) { $0.maxConnections = 3 }], appliances: [Self.loopback])
        let port = harness.port("tcp")
        // Every refusal reason is in /metrics from the start, at 0.
        for reason in [ConnectionRefusal.maxConnections, .perSource, .idle] {
            #expect((try? harness.metrics.expectCounter("alertgate_connections_refused_total", [("listener", "tcp"), ("reason", reason.rawValue)])) != nil)
        }
        var channels: [any Channel] = []
        for _ in 0..<4 { channels.append(try await Self.open(port: port)) }
        #expect(try await Self.waitRefused(harness, "tcp", .maxConnections, atLeast: 1) == 1)
        // Exactly one of the four was closed: which depends on the accepting event loops.
        let closed = try #require(try await Self.firstClosed(channels))
        let kept = channels.indices.filter { $0 != closed }.map { channels[$0] }
        for (index, channel) in kept.enumerated() {
            try await channel.writeAndFlush(ByteBuffer(string: SyslogListenerTests.cef("Kept \(index)") + "\n"))
        }
        #expect(Set(try await harness.intake.waitForStored(3).map(\.title)) == ["Kept 0", "Kept 1", "Kept 2"])
        let allActive = kept.allSatisfy(\.isActive)
        #expect(allActive)

        // One closes: its place is free for the next (once the gateway has seen the close).
        try await kept[0].close()
        let deadline = ContinuousClock.now + .seconds(60)
        while await harness.intake.stored.count < 4, ContinuousClock.now < deadline {
            let next = try await Self.open(port: port)
            try? await next.writeAndFlush(ByteBuffer(string: SyslogListenerTests.cef("After a close") + "\n"))
            // Refused (closed: the gateway had not seen the close yet) or stored.
            while await harness.intake.stored.count < 4, next.isActive, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        #expect(try await harness.intake.waitForStored(4).map(\.title).contains("After a close"))
        for channel in kept { try? await channel.close() }
        await harness.listeners.stop()
    }

    @Test func pastMaxConnectionsPerSourceThatSourceIsRefusedAndOthersAreNot() async throws {
        let harness = try await H(listeners: [Self.listener("tcp", .syslogTCP) { $0.maxConnectionsPerSource = 2 }], appliances: [Self.loopback])
        let port = harness.port("tcp")
        var channels: [any Channel] = []
        for _ in 0..<3 { channels.append(try await Self.open(port: port)) }
        #expect(try await Self.waitRefused(harness, "tcp", .perSource, atLeast: 1) == 1)
        // Another source address (all of 127/8 is loopback) is still served.
        let other = try await Self.open(port: port, from: "127.0.0.2")
        try await other.writeAndFlush(ByteBuffer(string: SyslogListenerTests.cef("From another source") + "\n"))
        let stored = try await harness.intake.waitForStored(1)
        #expect(stored.map(\.title) == ["From another source"])
        #expect(Self.refused(harness, "tcp", .perSource) == 1)
        for channel in channels + [other] { try? await channel.close() }
        await harness.listeners.stop()
    }

    @Test func theFileDescriptorBudgetCutsMaxConnectionsAndSaysSoOnce() async throws {
        let harness = try await H(
            listeners: [H.listener("a", .syslogTCP), H.listener("b", .syslogTCP)], appliances: [Self.loopback], budget: ConnectionBudget(connections: 2))
        #expect(harness.logs.containing("max_connections is cut to a 1, b 1").count == 1, "\(harness.logs.all)")
        let first = try await Self.open(port: harness.port("a"))
        let second = try await Self.open(port: harness.port("a"))
        #expect(try await Self.waitRefused(harness, "a", .maxConnections, atLeast: 1) == 1)
        try? await first.close()
        try? await second.close()
        await harness.listeners.stop()
    }

    // MARK: Timeouts

    @Test func aSilentTCPConnectionIsClosedAfterIdleTimeout() async throws {
        // 3 s: the alert must be read before the silence is timed, even on a machine so busy
        // that the event loop runs a second late.
        let harness = try await H(listeners: [Self.listener("tcp", .syslogTCP) { $0.idleTimeout = .seconds(3) }], appliances: [Self.loopback])
        let channel = try await Self.open(port: harness.port("tcp"))
        try await channel.writeAndFlush(ByteBuffer(string: SyslogListenerTests.cef("Then silence") + "\n"))
        #expect(try await harness.intake.waitForStored(1).map(\.title) == ["Then silence"])
        #expect(try await Self.waitClosed(channel))
        #expect(try await Self.waitRefused(harness, "tcp", .idle, atLeast: 1) == 1)
        #expect(harness.logs.containing("closed the connection of 127.0.0.1:").contains { $0.contains("idle_timeout") })
        await harness.listeners.stop()
    }

    @Test func aTLSHandshakeThatNeverComesIsClosedAfterHandshakeTimeout() async throws {
        let harness = try await H(
            listeners: [Self.listener("tls", .syslogTLS) { $0.handshakeTimeout = .seconds(1) }], appliances: [Self.loopback])
        // Plain TCP to the TLS listener: no ClientHello ever.
        let channel = try await Self.open(port: harness.port("tls"))
        #expect(try await Self.waitClosed(channel))
        #expect(try await Self.waitRefused(harness, "tls", .handshakeTimeout, atLeast: 1) == 1)
        #expect(Self.refused(harness, "tls", .idle) == 0)
        await harness.listeners.stop()
    }

    // MARK: Logged once a second

    @Test func refusalsAreAllCountedButLoggedAtMostOnceASecond() async throws {
        let harness = try await H(listeners: [Self.listener("tcp", .syslogTCP) { $0.maxConnections = 1 }], appliances: [Self.loopback])
        let port = harness.port("tcp")
        let start = ContinuousClock.now
        let holder = try await Self.open(port: port)
        var refused: [any Channel] = []
        for _ in 0..<40 { refused.append(try await Self.open(port: port)) }
        #expect(try await Self.waitRefused(harness, "tcp", .maxConnections, atLeast: 40) == 40)
        let seconds = Int((ContinuousClock.now - start).components.seconds) + 1
        let lines = harness.logs.containing("max_connections open")
        #expect(lines.count >= 1 && lines.count <= seconds, "\(lines.count) lines in about \(seconds) s")
        // The next line, a second later, says how many were left out.
        try await Task.sleep(for: .milliseconds(1100))
        refused.append(try await Self.open(port: port))
        #expect(try await Self.waitRefused(harness, "tcp", .maxConnections, atLeast: 41) == 41)
        let last = try #require(harness.logs.containing("max_connections open").last)
        #expect(last.contains("more suppressed)"), "\(last)")
        for channel in refused + [holder] { try? await channel.close() }
        await harness.listeners.stop()
    }

    // MARK: UDP

    @Test func aUDPSourceOverMaxRatePerSourceIsDroppedAndOthersAreServed() async throws {
        let harness = try await H(listeners: [Self.listener("udp", .syslogUDP) { $0.maxRatePerSource = 5 }], appliances: [Self.loopback])
        let port = harness.port("udp")
        let flooder = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        for index in 0..<200 {
            flooder.write(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(string: SyslogListenerTests.cef("Flood \(index)"))), promise: nil)
        }
        flooder.flush()
        #expect(try await harness.waitForCounter("alertgate_ingest_errors_total", [("listener", "udp"), ("reason", "rate-limited")], atLeast: 150) >= 150)
        let other = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.2", port: 0).get()
        try await other.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(string: SyslogListenerTests.cef("Legitimate"))))
        let deadline = ContinuousClock.now + .seconds(30)
        while await !harness.intake.stored.contains(where: { $0.title == "Legitimate" }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let stored = await harness.intake.stored
        #expect(stored.contains { $0.title == "Legitimate" })
        // The flood got its burst (5) and what refilled meanwhile; the rest was dropped.
        #expect(stored.filter { $0.title.hasPrefix("Flood") }.count < 50)
        try await flooder.close()
        try await other.close()
        await harness.listeners.stop()
    }
}

/// Failed client-certificate checks are refusals too: every one counted, one log line a
/// second per listener however many senders fail (2,936 refused connections used to write
/// 2,936 lines a second).
@Suite struct ClientCheckLogTests {
    typealias H = ListenerHarness

    @Test func manyFailedClientChecksWriteOneLineASecond() async throws {
        let harness = try await H(
            listeners: [H.listener("tls", .syslogTLS, clientAuth: .required)],
            appliances: [H.appliance("sensor-7", cn: "sensor-7.contoso.com", validation: .required)])
        let rogue = try TestPKI(name: "Rogue")
        let issued = try rogue.issue("sensor-7", commonName: "sensor-7.contoso.com")
        let chain = try X509Certificate.certificates(from: Array(try Data(contentsOf: issued.certificate)))
            + X509Certificate.certificates(from: Array(try Data(contentsOf: rogue.chainFile)))
        let config = H.listener("tls", .syslogTLS, clientAuth: .required)
        let tls = try ListenerTLS(listener: config, store: harness.store, crlSource: NoCRLs())
        let settings = try #require(try ListenerSettings.all(
            config: H.config(pki: harness.pki, listeners: [config], appliances: [H.appliance("sensor-7", cn: "sensor-7.contoso.com", validation: .required)]),
            store: harness.store, crlSource: NoCRLs(),
            context: .init(intake: harness.intake, logger: Logger(label: "check") { _ in RecordingLogHandler(recorder: harness.logs) }, metrics: harness.metrics, budget: nil, ingestMemory: IngestBudget(limit: ListenerSet.defaultIngestMemory))
        ).first)
        let start = ContinuousClock.now
        for index in 0..<50 {
            let check = tls.peerCheck(remote: try SocketAddress(ipAddress: "10.0.0.\(index + 1)", port: 5000), environment: settings.environment)
            let decision = await check(TLSPeer(chain: chain, applicationProtocol: nil, protocolVersion: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256"))
            guard case .refuse = decision else {
                Issue.record("a rogue certificate was accepted")
                return
            }
        }
        let seconds = Int((ContinuousClock.now - start).components.seconds) + 1
        #expect(harness.counter("alertgate_handshake_failures_total", [("appliance", "sensor-7"), ("partner", "listener:tls"), ("check", "chain")]) == 50)
        let lines = harness.logs.containing("refused the client certificate CN=sensor-7.contoso.com")
        #expect(lines.count >= 1 && lines.count <= seconds, "\(lines.count) lines in about \(seconds) s")
        await harness.listeners.stop()
    }
}
