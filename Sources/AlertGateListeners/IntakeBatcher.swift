import AlertGateCore

/// The backpressure of one connection as a pure state machine: the alerts of one read
/// burst go to the intake as one batch, and the channel reads no more while a batch is in
/// flight, so that a full or slow spool pushes back on the sender through TCP instead of
/// piling alerts up in memory.
///
/// The handler feeds it events (alerts parsed, end of a read burst, `read()` asked for,
/// the intake's answer) and does what it returns.
struct IntakeBatcher: Sendable {
    /// Parsed but not yet handed to the intake.
    private(set) var collected: [Alert] = []
    /// Whether a batch is with the intake (or waiting to be offered again after `.full`).
    private(set) var inFlight = false
    /// A `read()` came while a batch was in flight and was held back.
    private var readHeld = false

    mutating func collect(_ alert: Alert) {
        collected.append(alert)
    }

    /// At the end of a read burst (or of the stream): the batch to hand over now, if any and
    /// none is in flight.
    mutating func batchToSubmit() -> [Alert]? {
        guard !inFlight, !collected.isEmpty else { return nil }
        inFlight = true
        let batch = collected
        collected = []
        // The next burst is likely as big as this one: grow once, not alert by alert.
        collected.reserveCapacity(batch.count)
        return batch
    }

    /// The pipeline asks to read: true passes it on, false holds it until the batch in
    /// flight is stored.
    mutating func mayRead() -> Bool {
        guard inFlight else { return true }
        readHeld = true
        return false
    }

    enum AfterStored: Equatable {
        /// Alerts arrived meanwhile: hand them over (reading stays held).
        case submit([Alert])
        /// Pass on the `read()` that was held.
        case resumeReading
        /// Nothing to do.
        case idle
    }

    /// The batch in flight is stored.
    mutating func stored() -> AfterStored {
        inFlight = false
        if let next = batchToSubmit() { return .submit(next) }
        if readHeld {
            readHeld = false
            return .resumeReading
        }
        return .idle
    }

    /// The batch in flight was dropped (the intake failed): as `stored`, without the batch.
    mutating func dropped() -> AfterStored {
        stored()
    }

    /// Nothing collected and nothing in flight: a quiescing connection may close.
    var isIdle: Bool { !inFlight && collected.isEmpty }
}
