import Synchronization

/// The disk quota shared by every queue of a spool (`gateway.spool.max_size`): a queue
/// reserves the bytes of a batch before writing it and gives back what a deleted segment
/// held. One partner's backlog thus counts against the same quota as every other's, and
/// the refusal comes before anything is written.
public final class SpoolBudget: Sendable {
    public let quota: Int
    private let used: Mutex<Int>

    public init(quota: Int) {
        self.quota = quota
        self.used = Mutex(0)
    }

    /// Bytes held by the spool's segment files (and writes on their way).
    public var usedBytes: Int {
        used.withLock { $0 }
    }

    /// Takes `bytes` if they fit; false leaves the budget as it was.
    func reserve(_ bytes: Int) -> Bool {
        used.withLock { used in
            guard used + bytes <= quota else { return false }
            used += bytes
            return true
        }
    }

    /// Counts bytes that are already on disk (recovery), quota or not.
    func add(_ bytes: Int) {
        used.withLock { $0 += bytes }
    }

    func release(_ bytes: Int) {
        used.withLock { $0 = max(0, $0 - bytes) }
    }
}
