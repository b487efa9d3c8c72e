import NIOConcurrencyHelpers
import NIOCore

/// The log lines of one listener about what its peers did wrong, at most one a second
/// per kind (docs/reference.md §11): 2,936 refused connections a second write one line that says how
/// many were left out, not 2,936. Shared by the listener's connections, which run on
/// different event loops; the counters count every event.
final class ListenerLogLimiter: Sendable {
    private let limiters = NIOLockedValueBox<[String: LogRateLimiter]>([:])
    private let linesPerWindow: Int

    init(linesPerSecond: Int = 1) {
        linesPerWindow = linesPerSecond
    }

    /// nil: do not log this one. Otherwise log it, saying how many of its kind were left
    /// out since the last line of that kind.
    func admit(_ kind: String, now: NIODeadline = .now()) -> Int? {
        limiters.withLockedValue { limiters in
            limiters[kind, default: LogRateLimiter(linesPerWindow: linesPerWindow)].admit(now: now)
        }
    }

    /// ` (N more suppressed)` after a line that had others of its kind left out before it.
    static func suffix(_ suppressed: Int) -> String {
        suppressed > 0 ? " (\(suppressed) more suppressed)" : ""
    }
}
