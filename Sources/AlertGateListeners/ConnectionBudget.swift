/// How many connections the listeners may hold together so that the process never runs
/// out of file descriptors (docs/reference.md §11): the soft `RLIMIT_NOFILE` less a reserve for what
/// else needs descriptors (partner links, spool segments, CRL fetches, the admin API, the
/// listening sockets). At `ulimit -n 512`, 700 idle senders used to take every descriptor:
/// `/healthz` stopped answering and the partner link failed with "Too many open files".
public struct ConnectionBudget: Sendable, Equatable {
    /// Descriptors kept back from the listeners' connections.
    public static let defaultReserve = 128

    /// Descriptors the listeners' connections may use together.
    public let connections: Int

    /// - Parameters:
    ///   - fileDescriptorLimit: the soft `RLIMIT_NOFILE` the process runs under.
    public init(fileDescriptorLimit: Int, reserve: Int = ConnectionBudget.defaultReserve) {
        // A tiny limit still lets each listener take a connection or a few.
        connections = max(fileDescriptorLimit - reserve, 16)
    }

    public init(connections: Int) {
        self.connections = connections
    }

    /// The `max_connections` each listener gets: as configured when the sum fits the
    /// budget, otherwise each cut in proportion (at least 1), so that the sum does.
    ///
    /// - Parameter configured: by listener name, the TCP listeners' `max_connections`.
    /// - Returns: the caps, and whether any was cut.
    public func share(_ configured: [(name: String, maxConnections: Int)]) -> (caps: [String: Int], cut: Bool) {
        let total = configured.reduce(0) { $0 + $1.maxConnections }
        guard total > connections else {
            return (Dictionary(configured.map { ($0.name, $0.maxConnections) }) { first, _ in first }, false)
        }
        var caps: [String: Int] = [:]
        for entry in configured {
            caps[entry.name] = max(1, entry.maxConnections * connections / total)
        }
        return (caps, true)
    }
}
