import AlertGateCore
import Foundation
import NIOCore

/// A partner's answer to one POST.
struct HTTP2Response: Sendable {
    var status: Int
    /// Response fields, names in lowercase as HTTP/2 carries them.
    var headers: [PartnerSettings.HeaderField]
    /// The answer's body, up to the handler's limit.
    var body: ByteBuffer
    /// The body was longer than what was kept.
    var bodyTruncated = false

    func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name == lowered }?.value
    }
}

/// What became of one batch.
enum BatchOutcome: Sendable, Hashable {
    case accepted
    case retry(after: Duration?, reason: String)
    /// The partner answered 429, 503 or another 5xx: this batch later, the others go on.
    case deferred(after: Duration?, reason: String)
    case rejected(reason: String)
}

/// How a partner's answer decides a batch's fate (docs/reference.md §7), and how the fates of a send's
/// batches make its `DeliveryReport`. Pure functions, tested without a network.
enum HTTP2Verdict {
    /// How much of a partner's answer goes into a reason.
    static let answerLimit = 1024

    /// 2xx accepts. 421 is retried on a new connection. 429 and 503 defer the batch until their Retry-After; other 4xx reject
    /// the batch for good; other 5xx defer it too (the partner answered: the connection
    /// goes on with other batches). Anything else (1xx, 3xx: a redirect is
    /// not followed) is retried too, so that no alert is dropped over an endpoint that an
    /// operator has to correct.
    static func outcome(of response: HTTP2Response, partner: String, now: Date = Date()) -> BatchOutcome {
        let status = response.status
        let answer = answerText(response.body, truncated: response.bodyTruncated)
        let said = answer.isEmpty ? "" : ": \(answer)"
        switch status {
        case 200..<300:
            return .accepted
        case 421:
            // Misdirected Request (RFC 9110 §15.5.20): the request may be sent again on
            // another connection; the sender drops this one.
            return .retry(after: nil, reason: "partner \(partner) answered \(statusText(status)) on this connection; retrying on a new connection\(said)")
        case 429, 503:
            let after = response.header("retry-after").flatMap { retryAfter($0, now: now) }
            let wait = after.map { " (Retry-After: \(Self.seconds($0)) s)" } ?? ""
            return .deferred(after: after, reason: "partner \(partner) answered \(statusText(status))\(wait)\(said)")
        case 400..<500:
            return .rejected(reason: "partner \(partner) rejected the batch with \(statusText(status))\(said)")
        case 500..<600:
            return .deferred(after: nil, reason: "partner \(partner) answered \(statusText(status))\(said)")
        case 300..<400:
            let location = response.header("location").map { " to \($0)" } ?? ""
            return .retry(after: nil, reason: "partner \(partner) answered \(statusText(status))\(location); redirects are not followed: check the endpoint")
        default:
            return .retry(after: nil, reason: "partner \(partner) answered with an unexpected HTTP status \(status)\(said)")
        }
    }

    /// `Retry-After` (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date (IMF-fixdate)
    /// turned into the time left until it (zero when past). Nil when it is neither.
    static func retryAfter(_ value: String, now: Date) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            // Seconds beyond a day are capped (the spool retries with its own backoff anyway).
            guard let seconds = Int(text.prefix(9)) else { return nil }
            return .seconds(min(seconds, 86_400))
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        guard let date = formatter.date(from: text) else { return nil }
        let milliseconds = Int64(max(0, date.timeIntervalSince(now)) * 1000)
        return .milliseconds(min(milliseconds, 86_400_000))
    }

    /// Up to `answerLimit` bytes of an answer as text, on one line.
    static func answerText(_ body: ByteBuffer, truncated: Bool = false) -> String {
        let bytes = body.readableBytesView.prefix(answerLimit)
        var text = String(decoding: bytes, as: UTF8.self)
        text = String(text.map { $0.isNewline || $0 == "\t" ? " " : $0 })
            .trimmingCharacters(in: .whitespaces)
        if (truncated || body.readableBytes > answerLimit), !text.isEmpty {
            text += " …"
        }
        return text
    }

    /// The report of a send: the alerts of the batches accepted one after another from the
    /// first, and the fate of the first batch that was not.
    static func report(alertCounts: [Int], outcomes: [BatchOutcome]) -> DeliveryReport {
        var accepted = 0
        for (count, outcome) in zip(alertCounts, outcomes) {
            switch outcome {
            case .accepted:
                accepted += count
            case .retry(let after, let reason):
                return DeliveryReport(accepted: accepted, outcome: .retry(after: after, reason: TransportError(message: reason)))
            case .deferred(let after, let reason):
                return DeliveryReport(accepted: accepted, outcome: .deferred(after: after, reason: TransportError(message: reason)))
            case .rejected(let reason):
                return DeliveryReport(accepted: accepted, outcome: .rejected(reason: reason))
            }
        }
        return DeliveryReport(accepted: accepted, outcome: .delivered)
    }

    private static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let milliseconds = attoseconds / 1_000_000_000_000_000
        return milliseconds == 0 ? "\(seconds)" : "\(seconds).\(String(format: "%03lld", milliseconds))"
    }

    /// `HTTP 503 Service Unavailable`, or `HTTP 599` for a status without a known phrase.
    static func statusText(_ status: Int) -> String {
        let phrase = reasonPhrase(status)
        return phrase.isEmpty ? "HTTP \(status)" : "HTTP \(status) \(phrase)"
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 300: "Multiple Choices"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 421: "Misdirected Request"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: ""
        }
    }
}
