import AlertGateCore

/// Where listeners hand the alerts they parsed and attributed: the forwarding rules pick
/// each alert's partners and the spool stores it durably for each of them.
///
/// A listener acknowledges alerts to their sender (webhook `202`, or simply reading on
/// for syslog over TCP) only after `accept` returned `.stored`: what a sender was told is
/// taken is on disk.
public protocol AlertIntake: Sendable {
    /// Stores `alerts` (one read's worth, or one webhook body) and returns once they are on
    /// disk in every queue their rules name, or were refused as a whole.
    func accept(_ alerts: [Alert], from listener: String) async -> IntakeOutcome
}

/// What became of a batch handed to an `AlertIntake`.
public enum IntakeOutcome: Sendable, Hashable {
    /// Every alert is durably spooled for each partner its rules name (an alert no rule
    /// matches is counted as unmatched and is not an error).
    case stored
    /// The spool's disk quota is reached: nothing of the batch was stored. The sender
    /// should try again later (webhook: `503` with this Retry-After; syslog over TCP: stop
    /// reading, which pushes back on the sender, and try again).
    case full(retryAfter: Duration)
    /// The spool could not write (disk error): nothing of the batch is acknowledged.
    case failed(reason: String)
}
