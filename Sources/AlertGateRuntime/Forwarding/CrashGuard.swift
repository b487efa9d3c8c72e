import AlertGateSpool

/// Keeps a record that kills the process while it is formatted or sent from crash-looping
/// the gateway (issue 10: one alert crashed every restart until the spool was deleted).
///
/// A pure value. Before a batch goes out, the dispatcher stores the range in flight
/// (`SpoolQueue.markInFlight`); whatever settles clears it. A marker left at start means
/// the previous run died while sending that range: the range is then sent one record at
/// a time, so a second death names the record. A single record in flight at two deaths
/// in a row is set aside (to the dead-letter file) and skipped.
struct CrashGuard: Sendable, Hashable {
    /// Deaths with the same single record in flight before it is set aside.
    static let limit = 2

    enum Start: Sendable, Hashable {
        /// The previous run left nothing in flight.
        case clean
        /// The previous run died sending these: they go one at a time.
        case narrow(ClosedRange<UInt64>)
        /// Runs died twice with this record alone in flight: it is set aside.
        case setAside(UInt64)
    }

    /// Sent one record at a time, after a run died with them in flight.
    private(set) var suspects: ClosedRange<UInt64>?
    let start: Start

    /// - Parameter left: the marker the previous run left.
    /// - Parameter acknowledged: the queue's cursor (what the partner already took is out of question).
    init(left: SpoolQueue.InFlight?, acknowledged: UInt64) {
        guard let left, left.last > acknowledged else {
            start = .clean
            return
        }
        let range = max(left.first, acknowledged + 1)...left.last
        if range.count == 1, left.crashes + 1 >= Self.limit {
            start = .setAside(range.lowerBound)
        } else {
            start = .narrow(range)
            suspects = range
        }
    }

    /// The most alerts the next batch may take when it starts after `position`.
    func batchLimit(after position: UInt64, otherwise limit: Int) -> Int {
        guard let suspects, suspects.contains(position + 1) else { return limit }
        return 1
    }

    /// Whether batches go out one at a time now (no other batch in flight with a suspect).
    func isNarrowing(after position: UInt64) -> Bool {
        guard let suspects else { return false }
        return suspects.contains(position + 1)
    }

    /// The marker to store before sending `range` while `inFlight` (with it) is out: a
    /// single suspect carries the death before it, anything else starts from none.
    func marker(inFlight: ClosedRange<UInt64>) -> SpoolQueue.InFlight {
        let crashes = suspects.map { inFlight.count == 1 && $0.contains(inFlight.lowerBound) } == true ? Self.limit - 1 : 0
        return SpoolQueue.InFlight(first: inFlight.lowerBound, last: inFlight.upperBound, crashes: crashes)
    }

    /// The cursor moved to `cursor`: suspects it passed are cleared.
    mutating func passed(_ cursor: UInt64) {
        if let suspects, suspects.upperBound <= cursor {
            self.suspects = nil
        }
    }
}
