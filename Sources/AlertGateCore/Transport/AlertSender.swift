/// Sends alerts over one (appliance, partner) link.
public protocol AlertSender: Sendable {
    /// Sends `alerts` in order and returns once the partner accepted them, refused them,
    /// or the connection failed. A prefix of the batch may be accepted before a failure.
    func send(_ alerts: [Alert]) async -> DeliveryReport

    /// Finishes what is in flight and closes the connection.
    func close() async
}

/// What became of a batch.
public struct DeliveryReport: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        /// Every alert was accepted.
        case delivered
        /// Try the rest again later: the partner asked for it (HTTP 429/503, with its
        /// Retry-After), or the connection failed.
        case retry(after: Duration?, reason: TransportError)
        /// The partner refused the rest for good (HTTP 4xx): to the dead-letter file.
        case rejected(reason: String)
    }

    /// How many alerts, from the start of the batch, the partner accepted.
    public var accepted: Int
    public var outcome: Outcome

    public init(accepted: Int, outcome: Outcome) {
        self.accepted = accepted
        self.outcome = outcome
    }
}
