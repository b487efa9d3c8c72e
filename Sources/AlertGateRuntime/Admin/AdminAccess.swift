import AlertGateConfig
import Foundation
import NIOHTTP1

/// Who may ask what of the admin API (docs/reference.md §11), decided from the request head alone: a
/// pure value, so every rule is tested without a socket.
///
/// - `/healthz` and `/readyz` are open: orchestrators probe them without credentials.
/// - With a token, `/metrics`, `/v1/status` and `POST /v1/reload` need
///   `Authorization: Bearer TOKEN` (401 otherwise, compared in constant time).
/// - On a loopback admin address, those three need a loopback `Host` (403 otherwise): a
///   web page that rebinds its own name to 127.0.0.1 sends its own name as `Host`, so it
///   can neither reload the gateway nor read its status. docs/reference.md asks it of the reload; the
///   status and metrics name every partner, so they get the same rule.
/// - `POST /v1/reload` needs `Content-Type: application/json` or no body, and no `Origin`
///   header (403): what a browser can send across origins without a preflight is a
///   `text/plain` or form body, and every cross-origin POST carries an `Origin`.
struct AdminAccess: Sendable {
    /// The bearer token; nil when `gateway.admin_token` is not set.
    var token: String?
    /// The admin address is a loopback one: `Host` must be one too.
    var loopbackOnly: Bool

    /// Why a request was refused (the `reason` of `alertgate_admin_requests_refused_total`).
    enum Refusal: String, Sendable, CaseIterable {
        case unauthorized
        case host
        case origin
        case contentType = "content-type"
    }

    /// The paths anyone may ask.
    static let openPaths: Set<String> = ["/healthz", "/readyz"]

    /// The refusal of a request to `path`, or nil when it may be answered.
    func refusal(method: HTTPMethod, path: String, headers: HTTPHeaders, bodyBytes: Int) -> (Refusal, AdminResponse)? {
        guard !Self.openPaths.contains(path) else { return nil }
        if let token, !Self.bearer(headers, matches: token) {
            var response = AdminResponse.text(.unauthorized, "\(path) needs Authorization: Bearer TOKEN (gateway.admin_token)")
            response.extraHeaders["WWW-Authenticate"] = #"Bearer realm="alertgate""#
            return (.unauthorized, response)
        }
        if loopbackOnly, !Self.isLoopbackHost(headers.first(name: "Host")) {
            return (.host, .text(.forbidden, "\(path) answers only requests to a loopback Host (127.0.0.1, localhost or [::1]) on this address"))
        }
        guard path == "/v1/reload", method == .POST else { return nil }
        if headers.contains(name: "Origin") {
            return (.origin, .text(.forbidden, "POST /v1/reload does not take requests from web pages (an Origin header was sent)"))
        }
        let contentType = headers.first(name: "Content-Type")
        if let contentType, !Self.isJSON(contentType) {
            return (.contentType, .text(.unsupportedMediaType, "POST /v1/reload takes Content-Type: application/json or no body, not \(contentType)"))
        }
        if contentType == nil, bodyBytes > 0 {
            return (.contentType, .text(.unsupportedMediaType, "POST /v1/reload takes Content-Type: application/json or no body"))
        }
        return nil
    }

    /// `application/json`, with or without parameters such as `; charset=utf-8`.
    static func isJSON(_ contentType: String) -> Bool {
        let media = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        return media.lowercased() == "application/json"
    }

    /// `Host: 127.0.0.1`, `localhost:9180`, `[::1]:9180`...; a missing one is not.
    static func isLoopbackHost(_ host: String?) -> Bool {
        guard let host, let parsed = try? HostPort(parsing: host.trimmingCharacters(in: .whitespaces), defaultPort: 80) else { return false }
        return parsed.isLoopback
    }

    /// Whether the request carries `Authorization: Bearer token`; the comparison takes the
    /// same time wherever the first difference is.
    static func bearer(_ headers: HTTPHeaders, matches token: String) -> Bool {
        let values = headers["Authorization"]
        guard values.count == 1 else { return false }
        let value = values[0].trimmingCharacters(in: .whitespaces)
        let scheme = value.prefix { $0 != " " }
        guard scheme.lowercased() == "bearer" else { return false }
        let presented = value.dropFirst(scheme.count).trimmingCharacters(in: .whitespaces)
        return constantTimeEqual(Array(presented.utf8), Array(token.utf8))
    }

    /// Equal bytes, in a time that depends on the lengths only.
    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: lhs.count ^ rhs.count) | UInt8(lhs.count == rhs.count ? 0 : 1)
        for index in 0..<max(lhs.count, rhs.count) {
            let left = index < lhs.count ? lhs[index] : 0
            let right = index < rhs.count ? rhs[index] : 0
            difference |= left ^ right
        }
        return difference == 0
    }
}
