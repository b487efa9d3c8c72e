import AlertGateCore

/// The backpressure of one connection as a pure state machine: the alerts of one read
/// burst go to the intake as one batch, one batch at a time (in order). While a batch is
/// being stored the channel reads ahead, up to `readAhead` alerts or `readAheadBytes`
/// bytes, so that parsing the next burst overlaps the spool's fsync; past that it reads no
/// more, so that a full or slow spool pushes back on the sender through TCP instead of
/// piling alerts up in memory. The same limits cap a batch: a handler that decodes only
/// while `hasRoom` (syslog over TCP) never collects more than them plus one decoding step.
///
/// The handler feeds it events (alerts parsed, end of a read burst, `read()` asked for,
/// the intake's answer) and does what it returns.
struct IntakeBatcher: Sendable {
    /// Parsed but not yet handed to the intake.
    private(set) var collected: [Alert] = []
    /// What `collected` costs (`IngestBudget.cost`, as the handler counts it).
    private(set) var collectedBytes = 0
    /// Whether a batch is with the intake (or waiting to be offered again after `.full`).
    private(set) var inFlight = false
    /// What the batch in flight costs.
    private(set) var inFlightBytes = 0
    /// A `read()` came while a batch was in flight and was held back.
    private var readHeld = false
    /// How many alerts may be collected while a batch is in flight before reading stops.
    let readAhead: Int
    /// How many bytes of alerts may be collected likewise.
    let readAheadBytes: Int

    init(readAhead: Int = 1024, readAheadBytes: Int = 1024 * 1024) {
        self.readAhead = readAhead
        self.readAheadBytes = readAheadBytes
    }

    mutating func collect(_ alert: Alert, bytes: Int = 0) {
        collected.append(alert)
        collectedBytes += bytes
    }

    /// Whether more may be collected (below both limits).
    var hasRoom: Bool {
        collected.count < readAhead && collectedBytes < readAheadBytes
    }

    /// How many more alerts may be collected (0 when either limit is reached).
    var room: Int {
        hasRoom ? readAhead - collected.count : 0
    }

    /// At the end of a read burst (or of the stream): the batch to hand over now, if any and
    /// none is in flight.
    mutating func batchToSubmit() -> [Alert]? {
        guard !inFlight, !collected.isEmpty else { return nil }
        inFlight = true
        inFlightBytes = collectedBytes
        collectedBytes = 0
        let batch = collected
        collected = []
        // The next burst is likely as big as this one: grow once, not alert by alert.
        collected.reserveCapacity(batch.count)
        return batch
    }

    /// The pipeline asks to read: true passes it on, false holds it until the batch in
    /// flight is stored (when enough was read ahead meanwhile).
    mutating func mayRead() -> Bool {
        guard inFlight, !hasRoom else { return true }
        readHeld = true
        return false
    }

    /// Holds a `read()` for reasons of the handler's own (input it has not decoded yet);
    /// `resumeHeldRead` passes it on.
    mutating func holdRead() {
        readHeld = true
    }

    /// Whether a held `read()` may be passed on now (then it is no longer held).
    mutating func resumeHeldRead() -> Bool {
        guard readHeld, !inFlight || hasRoom else { return false }
        readHeld = false
        return true
    }

    enum AfterStored: Equatable {
        /// Alerts arrived meanwhile: hand them over (a held read stays held).
        case submit([Alert])
        /// Hand over what arrived meanwhile, and pass on the `read()` that was held.
        case submitAndResume([Alert])
        /// Pass on the `read()` that was held.
        case resumeReading
        /// Nothing to do.
        case idle
    }

    /// The batch in flight is stored.
    mutating func stored() -> AfterStored {
        inFlight = false
        inFlightBytes = 0
        let next = batchToSubmit()
        // Nothing in flight any more, or room to read ahead beside the next batch.
        let resume = readHeld && (next == nil || hasRoom)
        if resume { readHeld = false }
        switch (next, resume) {
        case (let batch?, true): return .submitAndResume(batch)
        case (let batch?, false): return .submit(batch)
        case (nil, true): return .resumeReading
        case (nil, false): return .idle
        }
    }

    /// The batch in flight was dropped (the intake failed): as `stored`, without the batch.
    mutating func dropped() -> AfterStored {
        stored()
    }

    /// Everything is dropped (the connection closes after a failed intake): what it cost.
    mutating func dropAll() -> Int {
        let bytes = collectedBytes + inFlightBytes
        collected = []
        collectedBytes = 0
        inFlightBytes = 0
        inFlight = false
        readHeld = false
        return bytes
    }

    /// Nothing collected and nothing in flight: a quiescing connection may close.
    var isIdle: Bool { !inFlight && collected.isEmpty }
}
