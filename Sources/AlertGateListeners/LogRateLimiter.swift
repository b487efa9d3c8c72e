import NIOCore

/// Lets a few log lines a second through for one connection (or one UDP listener) and
/// counts the rest, so that a sender flooding garbage fills the counters, not the log.
/// The first line after a quiet spell says how many were left out before it.
struct LogRateLimiter: Sendable {
    let linesPerWindow: Int
    let window: TimeAmount
    private var windowStart: NIODeadline = .distantPast
    private var linesInWindow = 0
    private var suppressed = 0

    init(linesPerWindow: Int = 5, window: TimeAmount = .seconds(1)) {
        self.linesPerWindow = linesPerWindow
        self.window = window
    }

    /// nil: do not log this one. Otherwise log it, adding how many were left out before.
    mutating func admit(now: NIODeadline = .now()) -> Int? {
        if now - windowStart >= window {
            windowStart = now
            linesInWindow = 0
        }
        guard linesInWindow < linesPerWindow else {
            suppressed += 1
            return nil
        }
        linesInWindow += 1
        defer { suppressed = 0 }
        return suppressed
    }
}
