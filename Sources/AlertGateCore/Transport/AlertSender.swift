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
        /// Try the rest again later: the connection failed (or the partner's answer needs
        /// an operator, such as a redirect). The link backs off.
        case retry(after: Duration?, reason: TransportError)
        /// The partner answered and asked for the rest later (HTTP 429, 503 and other 5xx,
        /// with its Retry-After): the connection works, so only this batch waits while the
        /// link goes on with others.
        case deferred(after: Duration?, reason: TransportError)
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
