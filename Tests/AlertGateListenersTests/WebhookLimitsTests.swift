import AlertGateConfig
import AlertGateCore
import AlertGateTesting
import Foundation
import Testing

@testable import AlertGateListeners

/// docs/reference.md §11 on the webhook, with real TLS clients: slowloris heads and idle kept-alive
/// connections are closed on time and counted, a head too large is answered 431, and a
/// listener with a token answers 401 without it.
@Suite struct WebhookLimitsTests {
    typealias H = ListenerHarness
    typealias W = WebhookListenerTests

    static func harness(_ change: (inout ListenerConfig) -> Void = { _ in }) async throws -> H {
        var listener = H.listener("hooks", .webhook, clientAuth: .optional, path: "/alerts")
        change(&listener)
        // validation: none, so that clients without a certificate are admitted (under
        // `required` they are refused at the handshake, before any limit is reached).
        return try await H(listeners: [listener], appliances: [H.appliance("plant", source: "127.0.0.0/8", validation: .none)])
    }

    static let body = #"{"title": "PLC program download", "severity": "major"}"#

    @Test func aSlowlorisHeadIsClosedAfterHeaderTimeout() async throws {
        let harness = try await Self.harness { $0.headerTimeout = .seconds(1) }
        let client = try TLSListenerTests.connect(port: harness.port("hooks"), pki: harness.pki)
        try client.write("POST /alerts HTTP/1.1\r\nHost: gateway\r\nX-Slow: 1\r\n")
        // The gateway closes the connection: s_client exits.
        _ = try await client.waitForExit(timeout: .seconds(30))
        #expect(try await ListenerLimitsTests.waitRefused(harness, "hooks", .headerTimeout, atLeast: 1) == 1)
        #expect(ListenerLimitsTests.refused(harness, "hooks", .idle) == 0)
        #expect(await harness.intake.offered.isEmpty)
        await harness.listeners.stop()
    }

    @Test func aKeptAliveConnectionWithoutANextRequestIsClosedAfterIdleTimeout() async throws {
        // 3 s: the request is answered before the keep-alive silence is timed, however busy the machine.
        let harness = try await Self.harness { $0.idleTimeout = .seconds(3) }
        let client = try TLSListenerTests.connect(port: harness.port("hooks"), pki: harness.pki)
        try client.write("POST /alerts HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: \(Self.body.utf8.count)\r\n\r\n\(Self.body)")
        try await client.waitForOutput(containing: "HTTP/1.1 202")
        _ = try await client.waitForExit(timeout: .seconds(30))
        #expect(try await ListenerLimitsTests.waitRefused(harness, "hooks", .idle, atLeast: 1) == 1)
        #expect(ListenerLimitsTests.refused(harness, "hooks", .headerTimeout) == 0)
        #expect(try await harness.intake.waitForStored(1).map(\.title) == ["PLC program download"])
        await harness.listeners.stop()
    }

    @Test func aHeadOver16KiBIsAnswered431() async throws {
        let harness = try await Self.harness()
        let big = try await W.request(harness, body: Self.body, extraArguments: ["-H", "X-Padding: \(String(repeating: "a", count: 20_000))"])
        #expect(big.status == 431, "\(big)")
        let normal = try await W.request(harness, body: Self.body, extraArguments: ["-H", "X-Padding: \(String(repeating: "a", count: 8_000))"])
        #expect(normal.status == 202)
        // One that never ends is cut at the limit (NIO's decoder alone would buffer 80 KiB).
        let client = try TLSListenerTests.connect(port: harness.port("hooks"), pki: harness.pki)
        try client.write("POST /alerts HTTP/1.1\r\nHost: gateway\r\n" + String(repeating: "X-Padding: \(String(repeating: "b", count: 1000))\r\n", count: 40))
        try await client.waitForOutput(containing: "HTTP/1.1 431")
        _ = try await client.waitForExit(timeout: .seconds(30))
        #expect(harness.counter("alertgate_ingest_errors_total", [("listener", "hooks"), ("reason", "oversize")]) == 2)
        await harness.listeners.stop()
    }

    @Test func withATokenAPostNeedsItsBearerToken() async throws {
        let harness = try await Self.harness { $0.token = "s3cret-Token" }
        let without = try await W.request(harness, body: Self.body)
        #expect(without.status == 401)
        #expect(without.headers.lowercased().contains("www-authenticate: bearer"))
        let wrong = try await W.request(harness, body: Self.body, extraArguments: ["-H", "Authorization: Bearer s3cret-Tokem"])
        #expect(wrong.status == 401)
        let right = try await W.request(harness, body: Self.body, extraArguments: ["-H", "Authorization: Bearer s3cret-Token"])
        #expect(right.status == 202)
        #expect(try await harness.intake.waitForStored(1).map(\.title) == ["PLC program download"])
        #expect(harness.counter("alertgate_ingest_errors_total", [("listener", "hooks"), ("reason", "unauthorized")]) == 2)
        await harness.listeners.stop()
    }

    @Test func bearerTokensCompareWhole() {
        let token = BearerToken("abc")
        #expect(token.admits("Bearer abc"))
        #expect(token.admits("bearer  abc"))
        #expect(!token.admits("Bearer ab"))
        #expect(!token.admits("Bearer abcd"))
        #expect(!token.admits("Basic abc"))
        #expect(!token.admits(nil))
        #expect(!BearerToken("").admits("Bearer "))
    }
}
