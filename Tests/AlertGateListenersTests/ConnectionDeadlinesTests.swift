import AlertGateConfig
import AlertGateCore
import Logging
import MetricsTestKit
import NIOCore
import NIOEmbedded
import Testing

@testable import AlertGateListeners

/// The connection timeouts as a pure value, and `ConnectionGuard` on an `EmbeddedChannel`
/// whose clock the test moves (no waiting).
@Suite struct ConnectionDeadlinesTests {
    static func limits(handshake: Int64? = 10, header: Int64? = 10, idle: Int64? = 600) -> ConnectionLimits {
        var config = ListenerConfig(name: "l", protocol: .syslogTLS, listen: HostPort(host: "127.0.0.1", port: 0), location: .start)
        config.handshakeTimeout = .seconds(handshake ?? 0)
        config.headerTimeout = .seconds(header ?? 0)
        config.idleTimeout = .seconds(idle ?? 0)
        return ConnectionLimits(config)
    }

    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    static func at(_ seconds: Int64) -> NIODeadline { start + .seconds(seconds) }

    @Test func theHandshakeMustFinishInTime() {
        var deadlines = ConnectionDeadlines(style: .stream, limits: Self.limits(), usesTLS: true, now: Self.start)
        #expect(deadlines.deadline == Self.at(10))
        let v1 = deadlines.expire(now: Self.at(10)); #expect(v1 == .close(.handshakeTimeout))
        var done = ConnectionDeadlines(style: .stream, limits: Self.limits(), usesTLS: true, now: Self.start)
        done.readRequested(now: Self.at(0))
        done.handshakeCompleted(now: Self.at(3))
        let v2 = done.expire(now: Self.at(10)); #expect(v2 == .wait(until: Self.at(603)))
    }

    @Test func silenceCountsOnlyWhileTheConnectionReads() {
        var deadlines = ConnectionDeadlines(style: .stream, limits: Self.limits(), usesTLS: false, now: Self.start)
        deadlines.readRequested(now: Self.at(0))
        let v3 = deadlines.received(100, now: Self.at(100)); #expect(v3)
        // A batch with a full spool: nothing read for an hour is not the sender's silence.
        let v4 = deadlines.expire(now: Self.at(3600)); #expect(v4 == .wait(until: Self.at(4200)))
        deadlines.readRequested(now: Self.at(3700))
        let v5 = deadlines.expire(now: Self.at(4200)); #expect(v5 == .wait(until: Self.at(4300)))
        let v6 = deadlines.expire(now: Self.at(4300)); #expect(v6 == .close(.idle))
    }

    @Test func zeroTurnsATimeoutOff() {
        var deadlines = ConnectionDeadlines(style: .stream, limits: Self.limits(handshake: nil, idle: nil), usesTLS: true, now: Self.start)
        #expect(deadlines.deadline == nil)
        deadlines.handshakeCompleted(now: Self.at(1))
        deadlines.readRequested(now: Self.at(1))
        #expect(deadlines.deadline == nil)
        let v7 = deadlines.expire(now: Self.at(100_000)); #expect(v7 == .wait(until: nil))
    }

    @Test func aWebhookHeadIsTimedFromTheHandshakeThenFromItsFirstByte() {
        var deadlines = ConnectionDeadlines(style: .http, limits: Self.limits(idle: 60), usesTLS: true, now: Self.start)
        deadlines.handshakeCompleted(now: Self.at(1))
        // Slowloris: a byte now and then does not move the head's deadline.
        for second in 2...10 { let v8 = deadlines.received(1, now: Self.at(Int64(second))); #expect(v8) }
        let v9 = deadlines.expire(now: Self.at(11)); #expect(v9 == .close(.headerTimeout))

        var kept = ConnectionDeadlines(style: .http, limits: Self.limits(idle: 60), usesTLS: true, now: Self.start)
        kept.handshakeCompleted(now: Self.at(1))
        let v10 = kept.received(300, now: Self.at(2)); #expect(v10)
        kept.headReceived(now: Self.at(2))
        kept.requestComplete()
        #expect(kept.deadline == nil)  // answering: the spool may take its time
        kept.responded(now: Self.at(30))
        #expect(kept.deadline == Self.at(90))  // keep-alive
        let v11 = kept.received(10, now: Self.at(80)); #expect(v11)
        #expect(kept.deadline == Self.at(90))  // the next head: header_timeout from its first byte
        let v12 = kept.expire(now: Self.at(90)); #expect(v12 == .close(.headerTimeout))

        var idle = kept
        idle.responded(now: Self.at(100))
        let v13 = idle.expire(now: Self.at(160)); #expect(v13 == .close(.idle))
    }

    @Test func aWebhookHeadOverTheLimitIsRefused() {
        var deadlines = ConnectionDeadlines(style: .http, limits: Self.limits(), usesTLS: false, now: Self.start)
        let v14 = deadlines.received(16 * 1024, now: Self.at(1)); #expect(v14)
        let v15 = deadlines.received(1, now: Self.at(2)); #expect(!v15)
    }

    // MARK: ConnectionGuard

    static func environment(_ limits: ConnectionLimits, metrics: TestMetrics) throws -> ListenerEnvironment {
        let config = ListenerConfig(name: "tcp", protocol: .syslogTCP, listen: HostPort(host: "127.0.0.1", port: 0), location: .start)
        return ListenerEnvironment(
            config: config, limits: limits, attribution: try ApplianceAttribution(appliances: [], defaultAppliance: nil), intake: RecordingIntake(),
            logger: Logger(label: "guard-test"), metrics: ListenerMetrics(listener: "tcp", kind: .syslogTLS, appliances: [], factory: metrics), logLimiter: ListenerLogLimiter(),
            ingestMemory: IngestBudget(limit: ListenerSet.defaultIngestMemory))
    }

    @Test func theGuardClosesASilentConnectionOnTimeAndCountsIt() throws {
        let metrics = TestMetrics()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ConnectionGuard(environment: try Self.environment(Self.limits(idle: 600), metrics: metrics), style: .stream, usesTLS: false))
        try channel.connect(to: SocketAddress(ipAddress: "10.1.2.3", port: 5000)).wait()
        channel.read()
        channel.embeddedEventLoop.advanceTime(by: .seconds(500))
        try channel.writeInbound(ByteBuffer(string: "<134>hello\n"))
        channel.read()
        channel.embeddedEventLoop.advanceTime(by: .seconds(500))
        #expect(channel.isActive)  // 500 s after the last bytes
        channel.embeddedEventLoop.advanceTime(by: .seconds(100))
        #expect(!channel.isActive)
        #expect(try metrics.expectCounter("alertgate_connections_refused_total", [("listener", "tcp"), ("reason", "idle")]).totalValue == 1)
    }

    @Test func theGuardClosesAHandshakeThatTakesTooLong() throws {
        let metrics = TestMetrics()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ConnectionGuard(environment: try Self.environment(Self.limits(handshake: 10), metrics: metrics), style: .stream, usesTLS: true))
        try channel.connect(to: SocketAddress(ipAddress: "10.1.2.3", port: 5000)).wait()
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
        #expect(try metrics.expectCounter("alertgate_connections_refused_total", [("listener", "tcp"), ("reason", "handshake-timeout")]).totalValue == 1)
    }
}

/// The pure parts of the other limits.
@Suite struct LimitArithmeticTests {
    @Test func aSourceGetsItsRateAndABurstOfOneSecond() {
        var limiter = SourceRateLimiter(rate: 10)
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        let first = (0..<20).filter { _ in limiter.admit("10.0.0.1", now: start) }.count
        #expect(first == 10)
        let other = limiter.admit("10.0.0.2", now: start)
        #expect(other)  // another source is not affected
        let early = limiter.admit("10.0.0.1", now: start + .milliseconds(50))
        #expect(!early)
        let refilled = limiter.admit("10.0.0.1", now: start + .milliseconds(150))
        #expect(refilled)  // 1.5 tokens back
    }

    @Test func theTableOfSourcesStaysBounded() {
        var limiter = SourceRateLimiter(rate: 10, maximumSources: 100)
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        for index in 0..<1000 { _ = limiter.admit("10.0.\(index / 256).\(index % 256)", now: start + .milliseconds(Int64(index))) }
        #expect(limiter.sourceCount <= 100)
    }

    @Test func maxConnectionsAreCutInProportionToFitTheDescriptors() {
        let budget = ConnectionBudget(fileDescriptorLimit: 512)
        #expect(budget.connections == 384)
        let (caps, cut) = budget.share([(name: "tls", maxConnections: 1024), (name: "hooks", maxConnections: 512)])
        #expect(cut)
        #expect(caps == ["tls": 256, "hooks": 128])
        #expect(caps.values.reduce(0, +) <= 384)
        let fits = ConnectionBudget(fileDescriptorLimit: 1_048_576).share([(name: "tls", maxConnections: 1024)])
        #expect(!fits.cut && fits.caps == ["tls": 1024])
    }
}
