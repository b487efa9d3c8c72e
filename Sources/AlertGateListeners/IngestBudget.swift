import NIOConcurrencyHelpers

/// The memory every stream connection of a gateway may hold in alerts that are parsed and
/// not yet stored (collected for a batch, or in a batch with the intake): one budget shared
/// by all listeners, so that many connections cannot add up to what one may not hold.
///
/// A connection takes what its alerts cost as it collects them and gives it back when their
/// batch is stored or dropped. While the budget is spent it decodes nothing more (what it
/// received stays undecoded, and it stops reading) and asks to be woken when some is given
/// back. Taking is checked before each decoding step, not per alert, so the total may pass
/// the limit by what one step of each connection collects (at most
/// `SyslogStreamHandler.alertsPerStep` alerts).
final class IngestBudget: Sendable {
    /// What an alert costs beyond its message bytes: the `Alert` value and its strings'
    /// headers (an estimate; the fields themselves are at most the message again).
    static let perAlertOverhead = 256
    let limit: Int
    private let state = NIOLockedValueBox(State())

    private struct State {
        var used = 0
        var waiters: [@Sendable () -> Void] = []
    }

    init(limit: Int) {
        self.limit = limit
    }

    /// What the alerts held now cost.
    var used: Int {
        state.withLockedValue { $0.used }
    }

    /// Whether there is room to decode more.
    var hasRoom: Bool {
        state.withLockedValue { $0.used < limit }
    }

    /// The cost of one alert parsed from a message of `messageBytes`.
    static func cost(messageBytes: Int) -> Int {
        messageBytes + perAlertOverhead
    }

    func take(_ bytes: Int) {
        guard bytes > 0 else { return }
        state.withLockedValue { $0.used += bytes }
    }

    /// Gives back what stored or dropped alerts cost, and wakes those waiting for room.
    func give(_ bytes: Int) {
        guard bytes > 0 else { return }
        let woken: [@Sendable () -> Void] = state.withLockedValue { state in
            state.used -= bytes
            guard state.used < limit else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        woken.forEach { $0() }
    }

    /// Calls `wake` once there is room: now, or when enough is given back (from whichever
    /// thread gives it; `wake` hops to its own event loop).
    func whenRoom(_ wake: @escaping @Sendable () -> Void) {
        let now = state.withLockedValue { state in
            if state.used < limit { return true }
            state.waiters.append(wake)
            return false
        }
        if now { wake() }
    }
}
