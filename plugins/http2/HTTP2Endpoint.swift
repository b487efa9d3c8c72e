import AlertGateCore

/// A partner's `endpoint` as the http2 transport reads it: `https://host[:port]/path`.
///
/// Plain `http://` is refused: alerts leave the gateway over validated TLS only.
struct HTTP2Endpoint: Sendable, Hashable {
    /// The host to connect to (an IPv6 address without its brackets).
    var host: String
    var port: Int
    /// The endpoint's own authority: the host and port as the endpoint wrote them.
    var authority: String
    /// `:path` of each request, with its query; `/` when the endpoint names none.
    var path: String

    static let defaultPort = 443

    init(_ partner: PartnerSettings) throws(TransportError) {
        try self.init(partner.endpoint, partner: partner.name)
    }

    init(_ text: String, partner: String) throws(TransportError) {
        func failure(_ why: String) -> TransportError {
            TransportError(message: "partner \(partner): endpoint \"\(text)\" \(why)")
        }
        let lowered = text.lowercased()
        if lowered.hasPrefix("http://") {
            throw failure("uses http://, but the http2 transport sends over TLS only: write https://")
        }
        guard lowered.hasPrefix("https://") else {
            throw failure("is not an https:// URL (expected https://host[:port]/path)")
        }
        let rest = text.dropFirst("https://".count)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        if path.contains("#") {
            throw failure("has a #fragment, which HTTP requests cannot carry")
        }
        if path.isEmpty {
            path = "/"
        } else if path.hasPrefix("?") {
            path = "/" + path
        }
        if path.contains(where: { $0 == " " || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } == true }) {
            throw failure("has spaces or control characters in its path (percent-encode them)")
        }
        if authority.contains("@") {
            throw failure("has user information before @; put credentials in headers (e.g. Authorization)")
        }

        let host: Substring
        var port = Self.defaultPort
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw failure("has an unclosed [")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw failure("has text after its [IPv6] host") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        if let portText {
            guard let value = Int(portText), (1...65_535).contains(value) else {
                throw failure("has no valid port (expected https://host[:port]/path, port 1-65535)")
            }
            port = value
        }
        guard !host.isEmpty else {
            throw failure("names no host (expected https://host[:port]/path)")
        }
        self.host = String(host)
        self.port = port
        self.authority = String(authority)
        self.path = path
    }

    /// `:authority` of each request (docs/reference.md §12): the name the partner's certificate is checked
    /// against, the same name TLS sends as SNI, so that a name-based front (nginx virtual
    /// hosts, a load balancer) routes the request where the handshake went. The port is
    /// added when it is not 443. Without a `server_name`, the endpoint's own authority.
    func requestAuthority(serverName: String?) -> String {
        guard let serverName, !serverName.isEmpty else { return authority }
        let host = serverName.contains(":") ? "[\(serverName)]" : serverName
        return port == Self.defaultPort ? host : "\(host):\(port)"
    }

    /// A Splunk HTTP Event Collector endpoint takes event objects (`/services/collector`,
    /// `/services/collector/event`); its raw endpoint takes lines as they are.
    var isSplunkHEC: Bool {
        let lowered = path.lowercased()
        return lowered.contains("/services/collector") && !lowered.contains("/services/collector/raw")
    }
}
