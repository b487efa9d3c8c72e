/// The health of one (appliance, partner) link as status shows it, and when it may try
/// again: a pure state machine, driven by send outcomes, with no I/O or clock of its own.
public struct LinkHealth: Sendable, Hashable {
    public enum State: String, Sendable, Hashable {
        /// Nothing sent yet.
        case idle
        /// The last attempt delivered.
        case connected
        /// Failing, and waiting to try again.
        case failing
    }

    public private(set) var state: State = .idle
    /// Failed attempts since the last success.
    public private(set) var consecutiveFailures = 0
    /// Why the last attempt failed (kept after a success until the next failure, for status).
    public private(set) var lastError: TransportError?
    /// No attempt before this instant.
    public private(set) var retryAt: ContinuousClock.Instant?

    public let backoff: Backoff

    public init(backoff: Backoff) {
        self.backoff = backoff
    }

    /// How long to wait, from `now`, before the next attempt.
    public func wait(now: ContinuousClock.Instant) -> Duration {
        guard let retryAt, retryAt > now else { return .zero }
        return retryAt - now
    }

    public mutating func delivered() {
        state = .connected
        consecutiveFailures = 0
        retryAt = nil
    }

    /// Records a failure and schedules the next attempt: after the partner's Retry-After
    /// when it gave one (never sooner than the backoff's floor), else after the backoff.
    /// - Parameter random: uniform in [0, 1), the jitter.
    public mutating func failed(_ error: TransportError, retryAfter: Duration?, now: ContinuousClock.Instant, random: Double) {
        let delay = backoff.delay(attempt: consecutiveFailures, random: random)
        let wait = retryAfter.map { max($0, backoff.initial) } ?? delay
        state = .failing
        consecutiveFailures += 1
        lastError = error
        retryAt = now + wait
    }
}
