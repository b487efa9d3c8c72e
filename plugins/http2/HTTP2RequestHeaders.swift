import AlertGateCore

/// The header fields of a batch POST: the pseudo-headers, `content-type`, `content-length`,
/// and the partner's `headers` (already `${VAR}`-substituted by the config). HTTP/2 wants
/// lowercase names and forbids connection-specific fields (RFC 9113 §8.2).
enum HTTP2RequestHeaders {
    /// Fields a partner may not set: HTTP/2 forbids them, or the transport owns them.
    static let reserved: [String: String] = [
        "connection": "HTTP/2 forbids connection-specific fields",
        "keep-alive": "HTTP/2 forbids connection-specific fields",
        "proxy-connection": "HTTP/2 forbids connection-specific fields",
        "transfer-encoding": "HTTP/2 forbids connection-specific fields",
        "upgrade": "HTTP/2 forbids connection-specific fields",
        "te": "HTTP/2 forbids connection-specific fields",
        "host": "the endpoint's host is sent as :authority",
        "content-length": "the transport sets it to the size of each batch",
    ]

    /// Problems with a partner's `headers`, each naming the partner, the field and the header.
    static func problems(_ partner: PartnerSettings) -> [String] {
        var problems: [String] = []
        for header in partner.headers {
            let lowered = header.name.lowercased()
            if header.name.isEmpty || !header.name.utf8.allSatisfy(isTokenByte) {
                problems.append("partner \(partner.name): headers: \"\(header.name)\" is not a valid header name")
            } else if let why = reserved[lowered] {
                problems.append("partner \(partner.name): headers: \(header.name) cannot be set: \(why)")
            }
            if header.value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
                problems.append("partner \(partner.name): headers: the value of \(header.name) holds control characters (line breaks are not allowed)")
            }
        }
        return problems
    }

    /// Everything after the pseudo-headers, in order: the content type and the user agent
    /// (unless the partner sets its own), the length, then the partner's fields with
    /// lowercase names. Fields that `problems` refuses are left out.
    static func fields(partner headers: [PartnerSettings.HeaderField], contentType: String, contentLength: Int, userAgent: String? = nil) -> [PartnerSettings.HeaderField] {
        var fields: [PartnerSettings.HeaderField] = []
        fields.reserveCapacity(headers.count + 3)
        if !headers.contains(where: { $0.name.lowercased() == "content-type" }) {
            fields.append(.init(name: "content-type", value: contentType))
        }
        if let userAgent, !headers.contains(where: { $0.name.lowercased() == "user-agent" }) {
            fields.append(.init(name: "user-agent", value: userAgent))
        }
        fields.append(.init(name: "content-length", value: String(contentLength)))
        for header in headers {
            let name = header.name.lowercased()
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte), reserved[name] == nil,
                !header.value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F })
            else { continue }
            fields.append(.init(name: name, value: header.value))
        }
        return fields
    }

    /// RFC 9110 `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
