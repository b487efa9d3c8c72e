import AlertGateCore

/// `transport: http2` — batches of alerts as HTTP/2 POSTs over validated TLS (ALPN h2 only),
/// many batches at once as streams of one connection (docs/reference.md §7). A 2xx answer accepts a
/// batch; 429 and 503 ask for a retry (honouring Retry-After); any other 4xx rejects it
/// for good, with the partner's answer; other 5xx are retried.
///
/// The body of a POST is NDJSON, one payload of the partner's format a line; for a Splunk
/// HTTP Event Collector endpoint (a path with `/services/collector`, except the raw
/// endpoint) it is HEC event objects instead.
public struct HTTP2Transport: TransportPlugin {
    public let name = "http2"

    public init() {}

    public func validate(_ partner: PartnerSettings) -> [String] {
        var problems: [String] = []
        do {
            _ = try HTTP2Endpoint(partner)
        } catch {
            problems.append(error.message)
        }
        problems += HTTP2RequestHeaders.problems(partner)
        if let framing = partner.framing {
            problems.append("partner \(partner.name): framing: \(framing.rawValue) applies to syslog streams; the http2 transport sends each batch as one request body")
        }
        return problems
    }

    /// `https://host[:port]/path`: the host and port (443 by default), ALPN h2.
    public func destination(of partner: PartnerSettings) throws(TransportError) -> Destination {
        let endpoint = try HTTP2Endpoint(partner)
        return Destination(host: endpoint.host, port: endpoint.port, applicationProtocols: ["h2"])
    }

    public func makeSender(for link: TransportLink) -> any AlertSender {
        HTTP2Sender(link: link)
    }
}
