import AlertGateCore
import AlertGateSpool
import Foundation
import Logging
import Synchronization
import Testing

@testable import AlertGateRuntime

/// The dispatcher between a spool queue and a link, with senders that misbehave on
/// purpose: every alert ends accepted once or in the dead-letter file, never lost.
@Suite struct DispatcherTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dispatch-\(UUID().uuidString)")
    let key = Spool.Key(partner: "qradar", appliance: "sensor-1")

    func alerts(_ range: ClosedRange<Int>) -> [Alert] {
        range.map { Alert(id: "a\($0)", receivedAt: Date(), severity: .major, title: "alert \($0)", appliance: "sensor-1") }
    }

    /// Accepts what its script says, and remembers every alert it accepted.
    actor ScriptedSender: AlertSender {
        enum Step {
            case acceptAll
            case acceptThenFail(Int)
            case rejectIf(String)
            case deferAll
        }

        var script: [Step]
        var received: [String] = []
        /// The alerts of each batch answered "later", in order.
        var deferredBatches: [[String]] = []

        init(_ script: [Step]) {
            self.script = script
        }

        func send(_ alerts: [Alert]) async -> DeliveryReport {
            let step = script.count > 1 ? script.removeFirst() : script[0]
            switch step {
            case .acceptAll:
                received += alerts.map(\.id)
                return DeliveryReport(accepted: alerts.count, outcome: .delivered)
            case .acceptThenFail(let count):
                let accepted = min(count, alerts.count)
                received += alerts.prefix(accepted).map(\.id)
                return DeliveryReport(accepted: accepted, outcome: .retry(after: nil, reason: TransportError(message: "connection reset by peer")))
            case .deferAll:
                deferredBatches.append(alerts.map(\.id))
                return DeliveryReport(accepted: 0, outcome: .deferred(after: nil, reason: TransportError(message: "HTTP 503 Service Unavailable")))
            case .rejectIf(let id):
                guard let bad = alerts.firstIndex(where: { $0.id == id }) else {
                    received += alerts.map(\.id)
                    return DeliveryReport(accepted: alerts.count, outcome: .delivered)
                }
                received += alerts.prefix(bad).map(\.id)
                return DeliveryReport(accepted: bad, outcome: .rejected(reason: "HTTP 400: {\"text\":\"Invalid data format\"}"))
            }
        }

        func close() async {}
    }

    func run(_ sender: ScriptedSender, alerts count: Int, maxAlerts: Int) async throws -> (SpoolQueue, DeadLetterFile) {
        let spool = try Spool(directory: folder.appendingPathComponent("spool"), quota: 1 << 30)
        let queue = try spool.queue(for: key)
        try await queue.append(alerts(1...count))
        let pool = LinkPool { _ in (sender, Backoff(initial: .milliseconds(10), maximum: .milliseconds(20))) }
        let deadLetters = DeadLetterFile(directory: folder.appendingPathComponent("dead-letter"))
        let dispatcher = Dispatcher(
            key: key, queue: queue, pool: pool, limits: .init(maxAlerts: maxAlerts, maxBytes: 1 << 20, maxDelay: .zero),
            window: 3, deadLetters: deadLetters, counters: ForwardingCounters(), logger: Logger(label: "test"))
        let running = Task { await dispatcher.run() }
        let deadline = ContinuousClock.now + .seconds(30)
        while await queue.depth > 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        await dispatcher.stop()
        await running.value
        return (queue, deadLetters)
    }

    @Test func aConnectionLostMidBatchResendsOnlyWhatThePartnerDidNotTake() async throws {
        let sender = ScriptedSender([.acceptAll, .acceptThenFail(3), .acceptAll])
        let (queue, _) = try await run(sender, alerts: 95, maxAlerts: 10)
        #expect(await queue.depth == 0)
        #expect(await queue.acknowledged == 95)
        let received = await sender.received
        #expect(received.sorted() == (1...95).map { "a\($0)" }.sorted(), "each alert exactly once")
    }

    @Test func aBatchThePartnerDefersIsSentAgainOnItsOwnWhileTheOthersGoOn() async throws {
        // Every third send answered 503.
        let sender = ScriptedSender([.acceptAll, .acceptAll, .deferAll, .acceptAll, .acceptAll, .deferAll, .acceptAll])
        let (queue, _) = try await run(sender, alerts: 100, maxAlerts: 10)
        #expect(await queue.depth == 0)
        let received = await sender.received
        #expect(received.sorted() == (1...100).map { "a\($0)" }.sorted(), "each alert exactly once")
        // The batch after a deferred one went out before it came back: the link did not stall
        // and did not start again from the deferred batch.
        let deferredBatches = await sender.deferredBatches
        #expect(deferredBatches.count == 2)
        for batch in deferredBatches {
            let next = "a\(Int(batch.last!.dropFirst())! + 1)"
            #expect(received.firstIndex(of: next)! < received.firstIndex(of: batch[0])!, "\(batch) came back after \(next)")
        }
    }

    @Test func aBatchThePartnerRejectsGoesToTheDeadLetterFileWithItsAnswer() async throws {
        let sender = ScriptedSender([.rejectIf("a7")])
        let (queue, deadLetters) = try await run(sender, alerts: 30, maxAlerts: 10)
        #expect(await queue.depth == 0)
        // The batch's alerts before the bad one were accepted; from it on they were refused.
        let received = Set(await sender.received)
        #expect(received == Set((1...6).map { "a\($0)" } + (11...30).map { "a\($0)" }))
        let lines = try String(contentsOf: deadLetters.path(partner: "qradar"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["partner"] as? String == "qradar")
        #expect(first["appliance"] as? String == "sensor-1")
        #expect((first["reason"] as? String)?.contains("Invalid data format") == true)
        #expect((first["alert"] as? [String: Any])?["title"] as? String == "alert 7")
    }

    @Test func outOfOrderCompletionsMoveTheCursorOnlyOverWhatIsContiguous() {
        var progress = DeliveryProgress(cursor: 10)
        progress.sent(through: 20)
        progress.sent(through: 30)
        #expect(progress.accepted(21...30) == nil)
        #expect(progress.isDone(25) && !progress.isDone(15))
        #expect(progress.accepted(11...15) == 15)
        progress.failed()
        progress.rewind()
        #expect(progress.readPosition == 15)
        #expect(progress.accepted(16...20) == 30)
        #expect(progress.done.isEmpty)
    }
}
