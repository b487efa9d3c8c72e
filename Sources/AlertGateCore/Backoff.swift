/// Exponential backoff with "equal jitter": the n-th retry waits a random time in
/// [c/2, c] with c = min(max, initial · 2ⁿ), so links that failed together do not
/// reconnect in lockstep, and a failing partner is never hammered. A pure value; the
/// caller keeps the attempt count and the random source.
public struct Backoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(30)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The upper bound of the wait before retry number `attempt` (0 for the first retry).
    public func ceiling(attempt: Int) -> Duration {
        let factor = 1 << min(max(attempt, 0), 30)
        let grown = initial * factor
        return grown > maximum || grown < initial ? maximum : grown
    }

    /// The wait before retry number `attempt`, with `random` drawn from [0, 1).
    public func delay(attempt: Int, random: Double) -> Duration {
        let ceiling = ceiling(attempt: attempt)
        return ceiling / 2 + ceiling * (random / 2)
    }
}
