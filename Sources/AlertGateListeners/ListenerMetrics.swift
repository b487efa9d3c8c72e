import AlertGateConfig
import AlertGateCore
import Metrics

/// Why a listener could not take a message as it came (the `reason` of
/// `alertgate_ingest_errors_total`).
public enum IngestErrorReason: String, Sendable, CaseIterable {
    /// Over `max_message_size` (a syslog message or datagram) or over the webhook's body limit.
    case oversize
    /// Bytes that are not UTF-8 (the alert is still forwarded, with U+FFFD in their place).
    case invalidUTF8 = "invalid-utf8"
    /// An RFC 6587 octet count that is not one, or a frame cut short by the end of the stream.
    case brokenFrame = "broken-frame"
    /// The sender matches no appliance and the listener has no default appliance.
    case unattributed
    /// A webhook request that is not a valid alert body (the 400s).
    case badRequest = "bad-request"
    /// The TLS handshake failed (no client certificate where one is required, bad records).
    case handshake
    /// The spool was full: the batch was offered again later (webhook: 503).
    case spoolFull = "spool-full"
    /// The spool could not write: the batch was not stored (syslog over TCP: the
    /// connection is closed; webhook: 500).
    case spoolFailed = "spool-failed"
    /// A syslog-udp datagram over its source's `max_rate_per_source`, dropped.
    case rateLimited = "rate-limited"
    /// A webhook request without the listener's bearer token (401).
    case unauthorized
}

/// Why a listener closed a connection on its own (the `reason` of
/// `alertgate_connections_refused_total`, docs/reference.md §11).
public enum ConnectionRefusal: String, Sendable, CaseIterable {
    /// The listener had `max_connections` open: closed at once.
    case maxConnections = "max-connections"
    /// Its source address had `max_connections_per_source` open: closed at once.
    case perSource = "per-source"
    /// The TLS handshake and client check took longer than `handshake_timeout`.
    case handshakeTimeout = "handshake-timeout"
    /// A webhook request head took longer than `header_timeout`.
    case headerTimeout = "header-timeout"
    /// Silent for `idle_timeout` (webhook: no next request within it).
    case idle

    /// Whether a listener of `kind` can refuse for this reason (its counter is made, at 0).
    func applies(to kind: ListenerProtocol) -> Bool {
        switch self {
        case .maxConnections, .perSource, .idle: kind != .syslogUDP
        case .handshakeTimeout: kind.usesTLS
        case .headerTimeout: kind == .webhook
        }
    }

    /// What the log line says happened.
    var explanation: String {
        switch self {
        case .maxConnections: "the listener has max_connections open"
        case .perSource: "its address has max_connections_per_source open"
        case .handshakeTimeout: "the TLS handshake and client check took longer than handshake_timeout"
        case .headerTimeout: "the request head did not arrive within header_timeout"
        case .idle: "it sent nothing for idle_timeout"
        }
    }
}

/// The counters of one listener. Those on the hot path are made once, when the listener is
/// built, so that counting a batch is a dictionary lookup and an add, not a trip through
/// the metrics factory's registry.
///
/// - `alertgate_alerts_received_total{listener,appliance}`: alerts the intake stored.
/// - `alertgate_ingest_errors_total{listener,reason}`: see `IngestErrorReason`.
/// - `alertgate_validation_bypassed_total{appliance,partner="listener:NAME",check}`: a
///   client certificate's failed check let through under policy `none` (the outbound
///   metric, with the listener in the partner's place).
/// - `alertgate_handshake_failures_total{appliance,partner="listener:NAME",check}`: a
///   client certificate refused under policy `required`.
/// - `alertgate_connections_refused_total{listener,reason}`: see `ConnectionRefusal`.
struct ListenerMetrics: Sendable {
    let listener: String
    private let factory: any MetricsFactory
    private let received: [String: Counter]
    private let errors: [IngestErrorReason: Counter]
    private let refusals: [ConnectionRefusal: Counter]

    init(listener: String, kind: ListenerProtocol, appliances: [String], factory: any MetricsFactory) {
        self.listener = listener
        self.factory = factory
        var received: [String: Counter] = [:]
        for appliance in appliances {
            received[appliance] = Counter(label: "alertgate_alerts_received_total", dimensions: [("listener", listener), ("appliance", appliance)], factory: factory)
        }
        self.received = received
        var errors: [IngestErrorReason: Counter] = [:]
        for reason in IngestErrorReason.allCases {
            errors[reason] = Counter(label: "alertgate_ingest_errors_total", dimensions: [("listener", listener), ("reason", reason.rawValue)], factory: factory)
        }
        self.errors = errors
        var refusals: [ConnectionRefusal: Counter] = [:]
        for reason in ConnectionRefusal.allCases where reason.applies(to: kind) {
            refusals[reason] = Counter(label: "alertgate_connections_refused_total", dimensions: [("listener", listener), ("reason", reason.rawValue)], factory: factory)
        }
        self.refusals = refusals
    }

    /// Counts stored alerts by appliance; a batch is one appliance's (TCP, TLS, webhook) or
    /// runs of a few (UDP), so this counts runs.
    func countReceived(_ alerts: [Alert]) {
        var index = alerts.startIndex
        while index < alerts.endIndex {
            let appliance = alerts[index].appliance
            var end = index + 1
            while end < alerts.endIndex, alerts[end].appliance == appliance { end += 1 }
            counter(appliance).increment(by: Int64(end - index))
            index = end
        }
    }

    func countError(_ reason: IngestErrorReason, by count: Int = 1) {
        errors[reason]?.increment(by: Int64(count))
    }

    func countRefusal(_ reason: ConnectionRefusal) {
        refusals[reason]?.increment()
    }

    func countBypassed(appliance: String, check: String) {
        Counter(label: "alertgate_validation_bypassed_total", dimensions: [("appliance", appliance), ("partner", "listener:\(listener)"), ("check", check)], factory: factory).increment()
    }

    func countRefused(appliance: String, check: String) {
        Counter(label: "alertgate_handshake_failures_total", dimensions: [("appliance", appliance), ("partner", "listener:\(listener)"), ("check", check)], factory: factory).increment()
    }

    private func counter(_ appliance: String) -> Counter {
        received[appliance] ?? Counter(label: "alertgate_alerts_received_total", dimensions: [("listener", listener), ("appliance", appliance)], factory: factory)
    }
}
