import AlertGateCore

/// Alerts read from a queue for one send, and their sequence numbers (for the cursor).
public struct SpoolBatch: Sendable {
    public private(set) var sequences: [UInt64] = []
    public private(set) var alerts: [Alert] = []

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

    /// Leaves out the alerts whose sequence `isDone` says was already accepted.
    public mutating func removeAll(where isDone: (UInt64) -> Bool) {
        var kept = SpoolBatch()
        for (sequence, alert) in zip(sequences, alerts) where !isDone(sequence) {
            kept.append(sequence: sequence, alert: alert)
        }
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
