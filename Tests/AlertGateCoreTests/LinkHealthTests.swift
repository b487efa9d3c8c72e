import AlertGateCore
import Testing

@Suite struct LinkHealthTests {
    let backoff = Backoff(initial: .milliseconds(500), maximum: .seconds(30))

    @Test func backoffDoublesUpToItsMaximum() {
        let ceilings = (0..<9).map { backoff.ceiling(attempt: $0) }
        #expect(ceilings == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30), .seconds(30)])
        #expect(backoff.ceiling(attempt: 10_000) == .seconds(30))
    }

    @Test func jitterStaysBetweenHalfTheCeilingAndTheCeiling() {
        for attempt in 0..<8 {
            let ceiling = backoff.ceiling(attempt: attempt)
            #expect(backoff.delay(attempt: attempt, random: 0) == ceiling / 2)
            #expect(backoff.delay(attempt: attempt, random: 0.999_999) <= ceiling)
            #expect(backoff.delay(attempt: attempt, random: 0.5) == ceiling * 0.75)
        }
    }

    @Test func failuresScheduleRetriesAndASuccessClearsThem() {
        var health = LinkHealth(backoff: backoff)
        let start = ContinuousClock.now
        #expect(health.state == .idle)
        #expect(health.wait(now: start) == .zero)

        let refused = TransportError(check: "expired", message: "This SSL certificate has expired and isn't considered valid.")
        health.failed(refused, retryAfter: nil, now: start, random: 0)
        #expect(health.state == .failing)
        #expect(health.wait(now: start) == .milliseconds(250))
        health.failed(refused, retryAfter: nil, now: start, random: 0)
        #expect(health.wait(now: start) == .milliseconds(500))
        health.failed(refused, retryAfter: nil, now: start, random: 0)
        #expect(health.wait(now: start) == .seconds(1))
        #expect(health.consecutiveFailures == 3)
        #expect(health.lastError?.check == "expired")
        #expect(health.wait(now: start + .seconds(5)) == .zero)

        health.delivered()
        #expect(health.state == .connected)
        #expect(health.consecutiveFailures == 0)
        #expect(health.wait(now: start) == .zero)
        // The reason of the last failure stays visible in status.
        #expect(health.lastError == refused)
    }

    @Test func aPartnersRetryAfterWins() {
        var health = LinkHealth(backoff: backoff)
        let now = ContinuousClock.now
        health.failed(TransportError(message: "HTTP 503"), retryAfter: .seconds(7), now: now, random: 0)
        #expect(health.wait(now: now) == .seconds(7))
        // ...but never below the backoff's floor.
        health.failed(TransportError(message: "HTTP 429"), retryAfter: .zero, now: now, random: 0)
        #expect(health.wait(now: now) == .milliseconds(500))
    }

    /// A partner whose certificate fails: in 4 s the link tries at most 5 times (the
    /// bench's limit; rsyslog makes hundreds of handshakes in that time).
    @Test func aFailingPartnerIsTriedAtMostFiveTimesInFourSeconds() {
        var health = LinkHealth(backoff: backoff)
        let start = ContinuousClock.now
        var now = start
        var attempts = 0
        while now < start + .seconds(4) {
            attempts += 1
            health.failed(TransportError(message: "refused"), retryAfter: nil, now: now, random: 0)
            now = now + health.wait(now: now)
        }
        #expect(attempts <= 5)
    }
}
