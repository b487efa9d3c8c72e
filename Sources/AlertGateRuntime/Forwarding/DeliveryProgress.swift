/// How far a queue's alerts got to the partner, while several batches are in flight and
/// may finish out of order (HTTP/2 streams) or fail in the middle.
///
/// A pure value: the dispatcher tells it what it sent and what came back, and asks where
/// the cursor may go (everything up to it accepted) and where to read next. After a
/// failure, reading starts again after the cursor, skipping what later batches already
/// delivered, so a retry resends only what the partner did not take.
struct DeliveryProgress: Sendable, Hashable {
    /// Everything up to here was accepted (or dead-lettered); the spool's cursor.
    private(set) var cursor: UInt64
    /// The last sequence handed to a batch.
    private(set) var readPosition: UInt64
    /// Accepted sequences after the cursor, as sorted, disjoint, non-adjacent ranges.
    private(set) var done: [ClosedRange<UInt64>] = []
    /// A batch failed: send nothing new until the batches in flight are back.
    private(set) var rewinding = false

    init(cursor: UInt64) {
        self.cursor = cursor
        self.readPosition = cursor
    }

    /// Whether `sequence` was already accepted (a retry must not send it again).
    func isDone(_ sequence: UInt64) -> Bool {
        sequence <= cursor || done.contains { $0.contains(sequence) }
    }

    /// A batch that ends at `last` went out.
    mutating func sent(through last: UInt64) {
        readPosition = max(readPosition, last)
    }

    /// The partner took these sequences. Returns the new cursor when it moved.
    mutating func accepted<S: Sequence<UInt64>>(_ sequences: S) -> UInt64? {
        for sequence in sequences where !isDone(sequence) {
            insert(sequence)
        }
        let before = cursor
        while let first = done.first, first.lowerBound == cursor + 1 {
            cursor = first.upperBound
            done.removeFirst()
        }
        return cursor > before ? cursor : nil
    }

    /// A batch came back unsent (in part or whole): stop sending new batches until those
    /// in flight are back, then `rewind()`.
    mutating func failed() {
        rewinding = true
    }

    /// Every batch is back after a failure: read again from the cursor.
    mutating func rewind() {
        rewinding = false
        readPosition = cursor
    }

    private mutating func insert(_ sequence: UInt64) {
        // Batches mostly finish in order: look from the end.
        var position = done.count
        while position > 0, done[position - 1].lowerBound > sequence {
            position -= 1
        }
        let joinsBefore = position > 0 && done[position - 1].upperBound + 1 == sequence
        let joinsAfter = position < done.count && done[position].lowerBound == sequence + 1
        switch (joinsBefore, joinsAfter) {
        case (true, true):
            done[position - 1] = done[position - 1].lowerBound...done[position].upperBound
            done.remove(at: position)
        case (true, false):
            done[position - 1] = done[position - 1].lowerBound...sequence
        case (false, true):
            done[position] = sequence...done[position].upperBound
        case (false, false):
            done.insert(sequence...sequence, at: position)
        }
    }
}
