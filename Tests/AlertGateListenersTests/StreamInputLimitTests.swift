import AlertGateConfig
import AlertGateCore
import AlertGateTesting
import Foundation
@testable import AlertGateListeners
import Logging
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

/// What one syslog stream connection holds between its socket and the spool (docs/reference.md §11):
/// batches capped in alerts and bytes, the rest of a read left undecoded with reading
/// stopped, and the gateway-wide ingest budget. `SyslogStreamHandler` on an
/// `EmbeddedChannel`, with an intake that never answers (a spool stuck in its fsync).
@Suite struct StreamInputLimitTests {
    /// Never answers: the first batch stays in flight. Records synchronously, for tests
    /// that stay on the embedded loop's thread.
    final class StuckIntake: AlertIntake {
        private let batches = NIOLockedValueBox<[[Alert]]>([])

        func accept(_ alerts: [Alert], from listener: String) async -> IntakeOutcome {
            batches.withLockedValue { $0.append(alerts) }
            try? await Task.sleep(for: .seconds(86_400))
            return .stored
        }

        /// Runs `loop` (where the handler's intake task may be enqueued) until `count`
        /// batches were offered or 120 s passed (the intake runs as a task: on a machine
        /// busy with the whole suite, Swift concurrency's threads may come late).
        func waitForBatches(_ count: Int, running loop: EmbeddedEventLoop) -> [[Alert]] {
            let deadline = ContinuousClock.now + .seconds(120)
            while batches.withLockedValue({ $0.count }) < count, ContinuousClock.now < deadline {
                loop.run()
                usleep(10_000)
            }
            return batches.withLockedValue { $0 }
        }
    }

    static let line = "<134>1 2026-11-30T08:15:30.000Z plc ot - - - CEF:0|Acme|Sensor|1|1|Tiny alert|8|\n"

    func channel(intake: StuckIntake, budget: IngestBudget) throws -> (EmbeddedChannel, ReadCounter) {
        let config = ListenerConfig(
            name: "tcp", protocol: .syslogTCP, listen: HostPort(host: "127.0.0.1", port: 0), defaultAppliance: "plant", location: .start)
        let environment = ListenerEnvironment(
            config: config, limits: ConnectionLimits(config),
            attribution: try ApplianceAttribution(appliances: [ApplianceConfig(name: "plant", kind: .sensor, location: .start)], defaultAppliance: "plant"),
            intake: intake, logger: Logger(label: "stream-limits"),
            metrics: ListenerMetrics(listener: "tcp", kind: .syslogTCP, appliances: ["plant"], factory: TestMetrics()), logLimiter: ListenerLogLimiter(),
            ingestMemory: budget)
        let reads = ReadCounter()
        let channel = EmbeddedChannel(handlers: [reads, SyslogStreamHandler(settings: ListenerSettings(environment: environment, tls: nil))])
        try channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 514)).wait()
        return (channel, reads)
    }

    /// One read of `count` lines, as a socket delivers it.
    func deliver(_ count: Int, to channel: EmbeddedChannel) throws {
        try channel.writeInbound(ByteBuffer(string: String(repeating: Self.line, count: count)))
        channel.pipeline.fireChannelReadComplete()
    }

    /// What a test saw, gathered on the channel's own thread and checked afterwards.
    struct Seen: Sendable {
        var batches: [Int] = []
        var budgetUsed: [Int] = []
        var readsPassed = 0
    }

    /// Runs `body` on a thread of its own: an `EmbeddedChannel` is used from the thread that
    /// made it, and waiting there for the intake's task must not block the concurrency pool.
    func onOwnThread(_ body: @escaping @Sendable () throws -> Seen) async throws -> Seen {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try body() })
            }.start()
        }
    }

    @Test func aBigReadIsBatchedAtTheCapAndTheRestWaitsUndecodedWithReadingStopped() async throws {
        let cost = IngestBudget.cost(messageBytes: Self.line.utf8.count - 1)
        let seen = try await onOwnThread {
            let intake = StuckIntake()
            let budget = IngestBudget(limit: 1 << 30)
            let (channel, reads) = try channel(intake: intake, budget: budget)
            try deliver(5000, to: channel)
            var seen = Seen()
            seen.batches = intake.waitForBatches(1, running: channel.embeddedEventLoop).map(\.count)
            seen.budgetUsed.append(budget.used)
            channel.read()
            seen.readsPassed = reads.count
            _ = try? channel.finish()
            return seen
        }
        // One batch of the cap (1024 alerts), not one of 5000.
        #expect(seen.batches == [1024])
        // Read ahead beside it: another 1024 decoded, the rest kept as bytes.
        #expect(seen.budgetUsed == [2048 * cost])
        #expect(seen.readsPassed == 0)  // held: the batch is in flight and undecoded input waits
    }

    @Test func theGlobalBudgetStopsDecodingUntilSomeIsGivenBack() async throws {
        let cost = IngestBudget.cost(messageBytes: Self.line.utf8.count - 1)
        let seen = try await onOwnThread {
            let intake = StuckIntake()
            // Others hold all of the budget but 10 alerts' worth.
            let budget = IngestBudget(limit: 1000 * cost)
            budget.take(990 * cost)
            let (channel, reads) = try channel(intake: intake, budget: budget)
            try deliver(500, to: channel)
            var seen = Seen()
            seen.batches = intake.waitForBatches(1, running: channel.embeddedEventLoop).map(\.count)
            seen.budgetUsed.append(budget.used)
            channel.read()
            seen.readsPassed = reads.count
            // Room again: what waited undecoded is decoded (up to the batch's read-ahead).
            budget.give(990 * cost)
            channel.embeddedEventLoop.run()
            seen.budgetUsed.append(budget.used)
            _ = try? channel.finish()
            return seen
        }
        // Decoding stopped once the budget was spent: after one step (at most 64 alerts).
        #expect(seen.batches == [SyslogStreamHandler.alertsPerStep])
        #expect(seen.budgetUsed.first == 1054 * cost)
        #expect(seen.readsPassed == 0)
        #expect(seen.budgetUsed.last == 500 * cost)
    }
}
