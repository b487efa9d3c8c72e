import AlertGateCore
import AlertGateRuntime
import Foundation
import Synchronization
import Testing

@Suite struct LinkPoolTests {
    /// A sender that fails a given number of times, then delivers, recording when it was called.
    actor ScriptedSender: AlertSender {
        var failuresLeft: Int
        var calls: [ContinuousClock.Instant] = []
        var closed = false

        init(failures: Int) {
            failuresLeft = failures
        }

        func send(_ alerts: [Alert]) async -> DeliveryReport {
            calls.append(.now)
            if failuresLeft > 0 {
                failuresLeft -= 1
                return DeliveryReport(accepted: 0, outcome: .retry(after: nil, reason: TransportError(check: "crl-unreachable", message: "CRL down")))
            }
            return DeliveryReport(accepted: alerts.count, outcome: .delivered)
        }

        func close() async {
            closed = true
        }
    }

    let alert = Alert(id: "1", receivedAt: Date(), severity: .major, title: "t", appliance: "sensor-1")
    let key = LinkPool.Key(appliance: "sensor-1", partner: "qradar")

    /// The dispatcher marks a batch in flight in `beforeSend`: after the backoff wait, right
    /// before the sender gets it (a long outage's waits are not "sending").
    @Test func beforeSendRunsAfterTheBackoffWaitRightBeforeTheSend() async throws {
        let sender = ScriptedSender(failures: 1)
        let pool = LinkPool { _ in (sender, Backoff(initial: .milliseconds(300), maximum: .seconds(1))) }
        _ = await pool.deliver([alert], over: key)
        let failed = try #require(await sender.calls.first)
        let marked = Mutex<ContinuousClock.Instant?>(nil)
        #expect(await pool.deliver([alert], over: key) { marked.withLock { $0 = .now } }.outcome == .delivered)
        let before = try #require(marked.withLock { $0 })
        let sent = try #require(await sender.calls.last)
        // Backoff has jitter: at least half the initial wait.
        #expect(before - failed >= .milliseconds(150))
        #expect(before <= sent)
    }

    @Test func aFailingLinkWaitsItsBackoffAndKeepsTheReason() async throws {
        let sender = ScriptedSender(failures: 2)
        let pool = LinkPool { _ in (sender, Backoff(initial: .milliseconds(100), maximum: .seconds(1))) }

        let first = await pool.deliver([alert], over: key)
        #expect(first.accepted == 0)
        let health = try #require(await pool.health[key])
        #expect(health.state == .failing)
        #expect(health.lastError?.check == "crl-unreachable")

        _ = await pool.deliver([alert], over: key)
        let third = await pool.deliver([alert], over: key)
        #expect(third.outcome == .delivered)
        #expect(await pool.health[key]?.state == .connected)

        let calls = await sender.calls
        #expect(calls.count == 3)
        // Backoff with jitter: at least half of 100 ms, then at least half of 200 ms.
        #expect(calls[1] - calls[0] >= .milliseconds(50))
        #expect(calls[2] - calls[1] >= .milliseconds(100))
    }

    @Test func linksAreKeptPerApplianceAndPartner() async throws {
        let made = LockedCounter()
        let pool = LinkPool { _ in
            made.increment()
            return (ScriptedSender(failures: 0), Backoff())
        }
        _ = await pool.deliver([alert], over: key)
        _ = await pool.deliver([alert], over: key)
        _ = await pool.deliver([alert], over: LinkPool.Key(appliance: "sensor-2", partner: "qradar"))
        #expect(made.value == 2)
        #expect(await pool.health.count == 2)
    }
}

extension LinkPoolTests {
    /// A sender whose sends wait until released, and which records its closing.
    actor GatedSender: AlertSender {
        var closed = false
        var sent = 0
        private var gate: CheckedContinuation<Void, Never>?

        func send(_ alerts: [Alert]) async -> DeliveryReport {
            await withCheckedContinuation { gate = $0 }
            sent += alerts.count
            return DeliveryReport(accepted: alerts.count, outcome: .delivered)
        }

        func release() {
            gate?.resume()
            gate = nil
        }

        var waiting: Bool { gate != nil }

        func close() async {
            closed = true
        }
    }

    @Test func aRenewedLinkClosesItsSenderOnceTheSendInFlightIsBackAndOpensANewOne() async throws {
        let old = GatedSender()
        let pool = LinkPool { _ in (old, Backoff()) }
        let inFlight = Task { await pool.deliver([alert], over: key) }
        while !(await old.waiting) { try await Task.sleep(for: .milliseconds(5)) }

        let new = ScriptedSender(failures: 0)
        await pool.renew { _ in (new, Backoff()) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(await !old.closed)  // a send is still in flight on it

        // The next send goes over a new sender; the old one closes once its send is back.
        #expect(await pool.deliver([alert], over: key).outcome == .delivered)
        #expect(await new.calls.count == 1)
        await old.release()
        #expect(await inFlight.value.outcome == .delivered)
        let closed = await eventuallyTrue { await old.closed }
        #expect(closed)
    }

    func eventuallyTrue(_ condition: () async -> Bool) async -> Bool {
        for _ in 0..<200 {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return await condition()
    }
}

final class LockedCounter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
