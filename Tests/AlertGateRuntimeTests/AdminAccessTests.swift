import AlertGateConfig
import AlertGateTesting
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import AlertGateRuntime

/// docs/reference.md §11's rules for the admin API: the bearer token, a loopback `Host`, no reload from
/// a web page; and the bounds on what one client can hold.
extension AdminServerTests {
    static let token = "0123456789abcdef-admin-token"

    @Test func withATokenStatusMetricsAndReloadNeedItAndTheProbesStayOpen() async throws {
        try await withServer(settings: .init(token: Self.token)) { served in
            for (path, method) in [("/v1/status", "GET"), ("/metrics", "GET"), ("/v1/reload", "POST")] {
                let none = try await curl(served.base + path, method: method)
                #expect(none.status == 401, "\(path) without a token")
                let wrong = try await curl(served.base + path, method: method, headers: ["Authorization: Bearer \(Self.token)x"])
                #expect(wrong.status == 401, "\(path) with a wrong token")
                let basic = try await curl(served.base + path, method: method, headers: ["Authorization: Basic \(Self.token)"])
                #expect(basic.status == 401, "\(path) with another scheme")
                let right = try await curl(served.base + path, method: method, headers: ["Authorization: Bearer \(Self.token)"])
                #expect(right.status == 200, "\(path) with the token: \(right.body)")
            }
            #expect(await served.backend.reloads == 1, "only the reload with the token ran")
            #expect(try await curl(served.base + "/healthz").status == 200)
            #expect(try await curl(served.base + "/readyz").status == 503)
        }
    }

    @Test func aReloadFromAWebPageIsRefusedAndOneFromATool() async throws {
        try await withServer { served in
            let reload = served.base + "/v1/reload"
            // DNS rebinding: the page's own name in Host.
            let rebound = try await curl(reload, method: "POST", headers: ["Host: attacker.example:9180"])
            #expect(rebound.status == 403)
            #expect(try await curl(served.base + "/v1/status", headers: ["Host: attacker.example"]).status == 403)
            // The bodies a browser sends across origins without asking first.
            let textPlain = try await curl(reload, method: "POST", headers: ["Content-Type: text/plain"], data: "{}")
            #expect(textPlain.status == 415)
            let form = try await curl(reload, method: "POST", data: "a=b")
            #expect(form.status == 415, "curl's default form content type")
            let origin = try await curl(reload, method: "POST", headers: ["Origin: http://attacker.example"])
            #expect(origin.status == 403)
            #expect(await served.backend.reloads == 0)

            // What tools send: no body, or JSON; to 127.0.0.1, localhost or [::1].
            #expect(try await curl(reload, method: "POST").status == 200)
            #expect(try await curl(reload, method: "POST", headers: ["Content-Type: application/json"], data: "{}").status == 200)
            #expect(try await curl(reload, method: "POST", headers: ["Host: localhost"]).status == 200)
            #expect(try await curl(reload, method: "POST", headers: ["Host: [::1]:9180"]).status == 200)
            #expect(await served.backend.reloads == 4)

            // Each refusal counted by its reason.
            let text = try await curl(served.base + "/metrics").body
            #expect(text.contains(#"alertgate_admin_requests_refused_total{reason="host"} 2"#), "\(text)")
            #expect(text.contains(#"alertgate_admin_requests_refused_total{reason="content-type"} 2"#))
            #expect(text.contains(#"alertgate_admin_requests_refused_total{reason="origin"} 1"#))
        }
    }

    @Test func theAccessRulesOneByOne() {
        let open = AdminAccess(token: nil, loopbackOnly: true)
        func headers(_ pairs: [(String, String)]) -> HTTPHeaders { HTTPHeaders(pairs) }
        #expect(open.refusal(method: .GET, path: "/healthz", headers: headers([]), bodyBytes: 0)?.1 == nil)
        #expect(open.refusal(method: .GET, path: "/v1/status", headers: headers([]), bodyBytes: 0)?.1.status == .forbidden, "no Host")
        for host in ["127.0.0.1", "127.0.0.1:9180", "localhost", "LOCALHOST:1", "[::1]", "[::1]:9180", "127.1.2.3"] {
            #expect(open.refusal(method: .GET, path: "/v1/status", headers: headers([("Host", host)]), bodyBytes: 0)?.1 == nil, "\(host)")
        }
        for host in ["evil.example", "127.0.0.1.evil.example", "0.0.0.0", "[::2]", "10.0.0.1:9180"] {
            #expect(open.refusal(method: .GET, path: "/v1/status", headers: headers([("Host", host)]), bodyBytes: 0)?.1.status == .forbidden, "\(host)")
        }
        let json = headers([("Host", "localhost"), ("Content-Type", "application/json; charset=utf-8")])
        #expect(open.refusal(method: .POST, path: "/v1/reload", headers: json, bodyBytes: 2)?.1 == nil)
        #expect(open.refusal(method: .POST, path: "/v1/reload", headers: headers([("Host", "localhost")]), bodyBytes: 1)?.1.status == .unsupportedMediaType)

        // Any Host when the admin address is not a loopback one (then a token is required by the config).
        let remote = AdminAccess(token: "t0k3n-t0k3n-t0k3n", loopbackOnly: false)
        #expect(remote.refusal(method: .GET, path: "/metrics", headers: headers([("Host", "gw.example"), ("Authorization", "Bearer t0k3n-t0k3n-t0k3n")]), bodyBytes: 0)?.1 == nil)
        #expect(remote.refusal(method: .GET, path: "/metrics", headers: headers([("Host", "gw.example"), ("Authorization", "Bearer t0k3n")]), bodyBytes: 0)?.1.status == .unauthorized)
        #expect(remote.refusal(method: .GET, path: "/metrics", headers: headers([("Authorization", "Bearer a"), ("Authorization", "Bearer t0k3n-t0k3n-t0k3n")]), bodyBytes: 0)?.1.status == .unauthorized)

        #expect(AdminAccess.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        #expect(!AdminAccess.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        #expect(!AdminAccess.constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!AdminAccess.constantTimeEqual([], Array("a".utf8)))
    }

    @Test func atTheLimitTheOldestIdleConnectionMakesRoomAndBusyOnesAreKept() throws {
        let connections = AdminConnections(limit: 2)
        let first = EmbeddedChannel(), second = EmbeddedChannel(), third = EmbeddedChannel(), fourth = EmbeddedChannel()
        guard case .admitted(let firstSlot, nil) = connections.admit(first), case .admitted(let secondSlot, nil) = connections.admit(second) else {
            Issue.record("the first two are admitted without evicting anyone")
            return
        }
        firstSlot.setBusy(true)
        secondSlot.setBusy(true)
        guard case .refused = connections.admit(third) else {
            Issue.record("every connection busy: the new one is refused")
            return
        }
        secondSlot.setBusy(false)
        guard case .admitted(_, let evicted?) = connections.admit(fourth) else {
            Issue.record("an idle connection makes room")
            return
        }
        #expect(evicted === second)
        #expect(connections.count == 2)
    }

    #if canImport(Glibc)
    /// The refusals counted so far, by reason.
    func refused(_ reason: String, _ served: Served) async throws -> Int {
        let text = try await curl(served.base + "/metrics").body
        let prefix = #"alertgate_connections_refused_total{listener="admin",reason=""# + reason + #""} "#
        return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) } ?? -1
    }

    /// How many of `connections` the server has closed, once at least `atLeast` are (or 30 s
    /// passed): a read that does not wait sees the end of the stream or an error.
    static func closed(_ connections: [KeptOpen], atLeast: Int = 1) async -> Int {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let count = connections.filter { connection in
                var byte: UInt8 = 0
                let read = recv(connection.socket, &byte, 1, Int32(MSG_DONTWAIT))
                return read == 0 || (read < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            }.count
            if count >= atLeast || ContinuousClock.now >= deadline { return count }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func atTheConnectionLimitAProbeTakesTheOldestIdlePlace() async throws {
        // Deadlines far off: only the limit closes connections here.
        let settings = AdminServer.Settings(maxConnections: 4, headerTimeout: .seconds(60), idleTimeout: .seconds(60))
        try await withServer(settings: settings) { served in
            let port = try #require(await served.server.boundAddress?.port)
            var idle: [KeptOpen] = []
            defer { for connection in idle { close(connection.socket) } }
            for _ in 0..<4 {
                idle.append(try await KeptOpen.connect(port: port))
            }
            let fifth = try await KeptOpen.connect(port: port)
            defer { close(fifth.socket) }
            // An idle connection gave up its place (the oldest admitted: which of the four
            // that is depends on the event loops that took them).
            #expect(await Self.closed(idle) == 1, "an idle connection gave up its place")
            #expect(try await fifth.exchange("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").hasPrefix("HTTP/1.1 200 OK"))
            // curl takes the place of another one.
            #expect(try await curl(served.base + "/healthz").status == 200)
            #expect(await Self.closed(idle, atLeast: 2) == 2)
            #expect(try await refused("max-connections", served) >= 2)
        }
    }

    @Test func silentSlowAndIdleConnectionsAreClosedOnTime() async throws {
        let settings = AdminServer.Settings(headerTimeout: .seconds(3), idleTimeout: .seconds(1))
        try await withServer(settings: settings) { served in
            let port = try #require(await served.server.boundAddress?.port)
            // One that sends nothing, one that sends half a head: closed at the header timeout.
            let silent = try await KeptOpen.connect(port: port)
            defer { close(silent.socket) }
            #expect(try await silent.exchange(nil) == "")
            let slow = try await KeptOpen.connect(port: port)
            defer { close(slow.socket) }
            #expect(try await slow.exchange("GET /healthz HTTP/1.1\r\nHost: 127.") == "")

            // A kept-alive connection is closed after its idle time.
            let kept = try await KeptOpen.connect(port: port)
            defer { close(kept.socket) }
            #expect(try await kept.exchange("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").hasPrefix("HTTP/1.1 200 OK"))
            #expect(try await kept.exchange(nil) == "")

            // On a loaded machine curl's own connections may be timed out too: at least ours.
            #expect(try await refused("header-timeout", served) >= 2)
            #expect(try await refused("idle", served) >= 1)
            #expect(await served.server.openConnections <= 1)
        }
    }
    #endif
}
