/// Why the spool refused or failed; each names the queue's folder.
public enum SpoolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The disk quota is reached: listeners must refuse new alerts (webhook 503, syslog
    /// TCP backpressure), never drop them silently.
    case full(queue: String, used: Int, quota: Int)
    /// The file system failed; the text is the system's reason.
    case io(queue: String, operation: String, reason: String)

    public var description: String {
        switch self {
        case .full(let queue, let used, let quota):
            "spool \(queue) is full: \(used) of \(quota) bytes used; new alerts are refused until the partner catches up"
        case .io(let queue, let operation, let reason):
            "spool \(queue): \(operation) failed: \(reason)"
        }
    }
}
