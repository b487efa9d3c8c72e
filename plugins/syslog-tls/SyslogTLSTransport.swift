import AlertGateCore

/// `transport: syslog-tls` — RFC 5425: syslog over TLS, each RFC 5424 message framed by
/// octet counting (`LEN SP MSG`), or one a line with `framing: newline`, the payload in the
/// partner's format (CEF, LEEF, JSON).
public struct SyslogTLSTransport: TransportPlugin {
    public let name = "syslog-tls"

    /// The IANA port of syslog over TLS, used when the endpoint names none.
    public static let defaultPort = 6514

    public init() {}

    public func validate(_ partner: PartnerSettings) -> [String] {
        do {
            _ = try destination(of: partner)
            return []
        } catch {
            return [error.message]
        }
    }

    /// `host:port`, `host` (port 6514), `[v6]:port`.
    public func destination(of partner: PartnerSettings) throws(TransportError) -> Destination {
        var text = partner.endpoint
        if text.hasPrefix("syslog-tls://") || text.hasPrefix("tls://") {
            text = String(text.drop { $0 != "/" }.dropFirst(2))
        }
        let host: Substring
        var port = Self.defaultPort
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw TransportError(message: "partner \(partner.name): endpoint \"\(partner.endpoint)\" has an unclosed [")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":") {
                guard let value = Int(rest.dropFirst()), (1...65_535).contains(value) else {
                    throw TransportError(message: "partner \(partner.name): endpoint \"\(partner.endpoint)\" has no valid port")
                }
                port = value
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            guard let value = Int(text[text.index(after: colon)...]), (1...65_535).contains(value) else {
                throw TransportError(message: "partner \(partner.name): endpoint \"\(partner.endpoint)\" has no valid port (expected host:port)")
            }
            port = value
        } else {
            host = Substring(text)
        }
        guard !host.isEmpty, !host.contains("/") else {
            throw TransportError(message: "partner \(partner.name): endpoint \"\(partner.endpoint)\" is not host:port (syslog-tls takes no URL path)")
        }
        return Destination(host: String(host), port: port)
    }

    public func makeSender(for link: TransportLink) -> any AlertSender {
        SyslogTLSSender(link: link)
    }
}
