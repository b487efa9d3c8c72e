import AlertGateCore

/// Alerts read from a queue for one send, and their sequence numbers (for the cursor).
public struct SpoolBatch: Sendable {
    public private(set) var sequences: [UInt64] = []
    public private(set) var alerts: [Alert] = []
    /// Records among these sequences that could not be read back as alerts (a format
    /// this version does not know), with their payload bytes: they go to the dead-letter
    /// file, so the cursor can move over them.
    public private(set) var unreadable: [(sequence: UInt64, record: [UInt8])] = []

    public init() {}

    public var count: Int { alerts.count }
    public var isEmpty: Bool { alerts.isEmpty }

    mutating func reserveCapacity(_ capacity: Int) {
        sequences.reserveCapacity(capacity)
        alerts.reserveCapacity(capacity)
    }

    mutating func append(sequence: UInt64, alert: Alert) {
        sequences.append(sequence)
        alerts.append(alert)
    }

    mutating func appendUnreadable(sequence: UInt64, record: [UInt8]) {
        unreadable.append((sequence, record))
    }

    /// Sets the unreadable records apart: the caller deals with them.
    public mutating func takeUnreadable() -> [(sequence: UInt64, record: [UInt8])] {
        defer { unreadable = [] }
        return unreadable
    }

    /// Leaves out the alerts whose sequence `isDone` says was already accepted.
    public mutating func removeAll(where isDone: (UInt64) -> Bool) {
        var kept = SpoolBatch()
        for (sequence, alert) in zip(sequences, alerts) where !isDone(sequence) {
            kept.append(sequence: sequence, alert: alert)
        }
        kept.unreadable = unreadable.filter { !isDone($0.sequence) }
        self = kept
    }

    /// The alerts from `index` on, with their sequences.
    public func suffix(from index: Int) -> SpoolBatch {
        var rest = SpoolBatch()
        rest.sequences = Array(sequences[index...])
        rest.alerts = Array(alerts[index...])
        return rest
    }
}
