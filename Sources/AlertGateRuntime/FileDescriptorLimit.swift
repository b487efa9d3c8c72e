#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's open-file limit (`RLIMIT_NOFILE`). `run` raises the soft limit to the
/// hard one at start (docs/reference.md §11): the default soft limit (often 1024) is far below what a
/// gateway with a thousand senders needs, and the hard one is what the operator allows.
enum FileDescriptorLimit {
    /// Raises the soft limit to the hard one (on macOS at most `OPEN_MAX`).
    /// - Returns: the soft limit in force afterwards, and the error text if raising failed.
    static func raiseToHard() -> (limit: Int, failure: String?) {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else {
            return (1024, "getrlimit(RLIMIT_NOFILE) failed: \(String(cString: strerror(errno)))")
        }
        var target = limits.rlim_max
        #if canImport(Darwin)
        target = min(target, rlim_t(OPEN_MAX))
        #endif
        guard target > limits.rlim_cur else { return (clamp(limits.rlim_cur), nil) }
        var raised = limits
        raised.rlim_cur = target
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 else {
            return (clamp(limits.rlim_cur), "setrlimit(RLIMIT_NOFILE, \(target)) failed: \(String(cString: strerror(errno)))")
        }
        return (clamp(target), nil)
    }

    /// `RLIM_INFINITY` and other huge values as a usable Int.
    private static func clamp(_ value: rlim_t) -> Int {
        value > rlim_t(Int32.max) ? Int(Int32.max) : Int(value)
    }
}
