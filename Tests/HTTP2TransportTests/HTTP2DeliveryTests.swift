import AlertGateCore
import AlertGateTesting
import Foundation
import NIOCore
import Testing

@testable import HTTP2Transport

/// The http2 plugin through the real path (config.yaml → LinkFactory → validated mutual
/// TLS with ALPN h2 → nghttp2), against HTTP/2 servers on 127.0.0.1: nghttpd, the bench's
/// h2sink, and a scripted server on nghttp2's server API.
@Suite(.serialized) struct HTTP2DeliveryTests {
    let gateway: Gateway

    init() throws {
        gateway = try Gateway()
    }

    func scripted(
        script: [ScriptedHTTP2Server.Action] = [], maxConcurrentStreams: UInt32 = 100, holdUntil: Int = 0,
        responder: (@Sendable (ScriptedHTTP2Server.Request) -> ScriptedHTTP2Server.Action)? = nil
    ) throws -> ScriptedHTTP2Server {
        try ScriptedHTTP2Server(
            certificateChain: gateway.partnerChain, key: gateway.partnerKey, script: script, maxConcurrentStreams: maxConcurrentStreams,
            holdUntil: holdUntil, responder: responder)
    }

    /// The alert ids in NDJSON lines, in order.
    static func ids(inNDJSON text: String) throws -> [String] {
        try text.split(separator: "\n").map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require(object["id"] as? String)
        }
    }

    // MARK: nghttpd

    @Test func nghttpdGetsThreePostsOfNDJSONWithTheSubstitutedHeader() async throws {
        let server = try await NGHTTPD(gateway)
        let sender = try await gateway.sender(
            .init(endpoint: "https://127.0.0.1:\(server.port)/ingest", headers: ["Authorization": "Splunk ${TOKEN}"]),
            environment: ["TOKEN": "s3cr3t"])
        await sender.keepResponses(upTo: 1 << 20)

        let report = await sender.send(Gateway.alerts(1200))
        #expect(report == DeliveryReport(accepted: 1200, outcome: .delivered))

        // --echo-upload: each answer is the body that was posted.
        let responses = await sender.lastResponses
        #expect(responses.map(\.status) == [200, 200, 200])
        let echoed = try responses.map { try Self.ids(inNDJSON: String(buffer: $0.body)) }
        #expect(echoed.map(\.count) == [500, 500, 200])
        #expect(echoed.flatMap { $0 } == (1...1200).map { "alert-\($0)" })
        #expect(responses.allSatisfy { String(buffer: $0.body).hasSuffix("}\n") })

        let log = server.output
        #expect(log.components(separatedBy: ":method: POST").count - 1 == 3)
        #expect(log.components(separatedBy: "sensitive) authorization: Splunk s3cr3t").count - 1 == 3, "\(log.suffix(3000))")
        #expect(!log.contains("${TOKEN}"))
        #expect(log.contains("content-type: application/x-ndjson"))
        #expect(log.contains(":path: /ingest"))
        // The name the certificate was checked against, as SNI said it (docs/reference.md §12).
        #expect(log.contains(":authority: siem.contoso.com:\(server.port)"), "\(log.prefix(3000))")
        #expect(log.contains("user-agent: alertgate/"))
        // One connection, streams 1, 3, 5 on it, none reset.
        #expect(server.handshakes == 1)
        #expect(await sender.connectionsOpened == 1)
        for stream in [1, 3, 5] {
            #expect(log.contains("recv (stream_id=\(stream)) :method: POST"))
        }
        #expect(!log.contains("recv RST_STREAM"))
    }

    // MARK: The bench's h2sink

    @Test func h2sinkCountsEveryAlertExactlyOnceThroughA503AndItsRetry() async throws {
        // Every 2nd request is answered 503.
        let sink = try await H2Sink(gateway, expect: 600, arguments: ["--fail-every", "2", "--fail-status", "503"])
        let sender = try await gateway.sender(.init(endpoint: "https://127.0.0.1:\(sink.port)/ingest"))

        let first = Gateway.alerts(300, from: 1)
        #expect(await sender.send(first) == DeliveryReport(accepted: 300, outcome: .delivered))

        // The way the dispatcher goes on: what was not accepted is sent again.
        var rest = Gateway.alerts(300, from: 301)
        var reports: [DeliveryReport] = []
        while !rest.isEmpty, reports.count < 5 {
            let report = await sender.send(rest)
            reports.append(report)
            rest.removeFirst(report.accepted)
        }
        #expect(reports.count == 2)
        #expect(reports.first?.accepted == 0)
        guard case .deferred(let after, let reason) = reports.first?.outcome else {
            Issue.record("a 503 must defer the batch: \(reports)")
            return
        }
        #expect(after == nil)
        #expect(reason.message == "partner splunk answered HTTP 503 Service Unavailable")
        #expect(reports.last == DeliveryReport(accepted: 300, outcome: .delivered))

        let summary = try await sink.summary()
        #expect(summary["reason"] as? String == "expect", "\(summary)")
        #expect(summary["msgs"] as? Int == 600)
        #expect(summary["seq_distinct"] as? Int == 600)
        #expect(summary["seq_dup"] as? Int == 0)
        #expect(summary["requests"] as? Int == 3)
        #expect(summary["requests_rejected"] as? Int == 1)
        #expect(summary["alerts_rejected"] as? Int == 300)
        #expect(summary["conns"] as? Int == 1)
        #expect(summary["rst_stream_recv"] as? Int == 0)
    }

    @Test func twentyBatchesGoOutAtOnceOnOneConnectionWithoutAReset() async throws {
        let sink = try await H2Sink(gateway, expect: 1000)
        let sender = try await gateway.sender(.init(endpoint: "https://127.0.0.1:\(sink.port)/ingest", maxAlerts: 50))
        #expect(await sender.send(Gateway.alerts(1000)) == DeliveryReport(accepted: 1000, outcome: .delivered))
        let state = try #require(await sender.connectionState)
        #expect(state.streamsOpened == 20)
        #expect(state.peakOpenStreams > 1, "\(state)")

        let summary = try await sink.summary()
        #expect(summary["reason"] as? String == "expect", "\(summary)")
        #expect(summary["requests"] as? Int == 20)
        #expect(summary["seq_distinct"] as? Int == 1000)
        #expect(summary["seq_dup"] as? Int == 0)
        #expect(summary["conns"] as? Int == 1)
        #expect(summary["rst_stream_recv"] as? Int == 0)
    }

    // MARK: Scripted partner

    @Test func twentyRequestsAreOpenAtOnceOnOneConnection() async throws {
        // No answer before all 20 requests have arrived: only concurrent streams get through.
        let server = try scripted(holdUntil: 20)
        let sender = try await gateway.sender(.init(endpoint: "https://127.0.0.1:\(server.port)/ingest", maxAlerts: 10))
        #expect(await sender.send(Gateway.alerts(200)) == DeliveryReport(accepted: 200, outcome: .delivered))
        #expect(server.peakOpenStreams == 20)
        #expect(server.connections == 1)
        #expect(server.resetsReceived == 0)
        #expect(await sender.connectionState?.peakOpenStreams == 20)
        let ids = try server.requests.flatMap { try Self.ids(inNDJSON: $0.body) }
        #expect(Set(ids) == Set((1...200).map { "alert-\($0)" }))
        #expect(ids.count == 200)
    }

    @Test func requestsBeyondThePartnersConcurrentStreamLimitWait() async throws {
        let server = try scripted(maxConcurrentStreams: 5, holdUntil: 5)
        let sender = try await gateway.sender(.init(endpoint: "https://127.0.0.1:\(server.port)/ingest", maxAlerts: 10))
        #expect(await sender.send(Gateway.alerts(200)) == DeliveryReport(accepted: 200, outcome: .delivered))
        #expect(server.requests.count == 20)
        #expect(server.peakOpenStreams == 5)
        #expect(server.resetsReceived == 0)
        let state = try #require(await sender.connectionState)
        #expect(state.peakOpenStreams == 5)
        #expect(state.streamsOpened == 20)
    }

    @Test func retryAfterIsHonouredAndTheRetryDelivers() async throws {
        let server = try scripted(script: [
            .answer(status: 503, headers: [.init("Retry-After", "3")], body: "indexer queue full"),
            .answer(status: 429, headers: [.init("Retry-After", "1")]),
        ])
        let sender = try await gateway.sender(.init(endpoint: "https://127.0.0.1:\(server.port)/ingest"))
        let alerts = Gateway.alerts(40)
        let unavailable = await sender.send(alerts)
        #expect(unavailable == DeliveryReport(accepted: 0, outcome: .deferred(
            after: .seconds(3), reason: TransportError(message: "partner splunk answered HTTP 503 Service Unavailable (Retry-After: 3 s): indexer queue full"))))
        let busy = await sender.send(alerts)
        #expect(busy == DeliveryReport(accepted: 0, outcome: .deferred(
            after: .seconds(1), reason: TransportError(message: "partner splunk answered HTTP 429 Too Many Requests (Retry-After: 1 s)"))))
        #expect(await sender.send(alerts) == DeliveryReport(accepted: 40, outcome: .delivered))
        // The same alerts three times, on the one connection.
        #expect(server.requests.count == 3)
        #expect(Set(server.requests.map(\.body)).count == 1)
        #expect(server.connections == 1)
    }

    @Test func aMisdirectedRequestIsSentAgainOnANewConnection() async throws {
        // A front that routed this connection to the wrong virtual host answers 421: the
        // batch is neither accepted nor dead-lettered, and the next send opens a new connection.
        let server = try scripted(script: [.answer(status: 421, body: "misdirected")])
        let sender = try await gateway.sender(.init(endpoint: "https://127.0.0.1:\(server.port)/ingest"))
        let misdirected = await sender.send(Gateway.alerts(3))
        guard case .retry(nil, let reason) = misdirected.outcome, misdirected.accepted == 0 else {
            Issue.record("421 must ask for a retry: \(misdirected)")
            return
        }
        #expect(reason.message.contains("421 Misdirected Request"))
        #expect(await sender.send(Gateway.alerts(3)) == DeliveryReport(accepted: 3, outcome: .delivered))
        #expect(server.connections == 2)
        #expect(server.requests.map(\.authority) == ["siem.contoso.com:\(server.port)", "siem.contoso.com:\(server.port)"])
        #expect(server.requests.allSatisfy { $0.headers["user-agent"]?.hasPrefix("alertgate/") == true })
        #expect(server.requests.allSatisfy { $0.headers["content-type"] == "application/x-ndjson" })
    }

    @Test func aBadRequestIsRejectedWithThePartnersAnswer() async throws {
        let server = try scripted(script: [.answer(status: 400, headers: [.init("content-type", "application/json")], body: "{\"text\":\"Invalid data format\",\"code\":6,\"invalid-event-number\":0}")])
        let sender = try await gateway.sender(.init(endpoint: "https://127.0.0.1:\(server.port)/services/collector/event"))
        let report = await sender.send(Gateway.alerts(5))
        #expect(report == DeliveryReport(accepted: 0, outcome: .rejected(
            reason: "partner splunk rejected the batch with HTTP 400 Bad Request: {\"text\":\"Invalid data format\",\"code\":6,\"invalid-event-number\":0}")))
        // A rejection is the partner's word on that batch: the connection stays.
        #expect(await sender.send(Gateway.alerts(5)) == DeliveryReport(accepted: 5, outcome: .delivered))
        #expect(server.connections == 1)
    }

    @Test func theReportCountsBatchesAcceptedFromTheFirstOnly() async throws {
        // Batch 2 of 3 (alerts 6-10) is answered 503 Retry-After 2, the others 200.
        let server = try scripted { request in
            request.body.contains("\"alert-6\"") ? .answer(status: 503, headers: [.init("retry-after", "2")]) : .answer(status: 200)
        }
        let sender = try await gateway.sender(.init(endpoint: "https://127.0.0.1:\(server.port)/ingest", maxAlerts: 5))
        let report = await sender.send(Gateway.alerts(15))
        #expect(report == DeliveryReport(accepted: 5, outcome: .deferred(after: .seconds(2), reason: TransportError(message: "partner splunk answered HTTP 503 Service Unavailable (Retry-After: 2 s)"))))
        #expect(server.requests.count == 3)
    }

    @Test func splunkHECGetsEventObjectsWithTheToken() async throws {
        let server = try scripted(script: [.answer(status: 200, body: "{\"text\":\"Success\",\"code\":0}")])
        let sender = try await gateway.sender(
            .init(endpoint: "https://127.0.0.1:\(server.port)/services/collector/event", headers: ["Authorization": "Splunk ${SPLUNK_TOKEN}"]),
            environment: ["SPLUNK_TOKEN": "1f2e3d4c"])
        #expect(await sender.send(Gateway.alerts(3)) == DeliveryReport(accepted: 3, outcome: .delivered))
        let request = try #require(server.requests.first)
        #expect(request.method == "POST")
        #expect(request.path == "/services/collector/event")
        #expect(request.headers["authorization"] == "Splunk 1f2e3d4c")
        #expect(request.headers["content-type"] == "application/json")
        #expect(request.headers["content-length"] == String(request.body.utf8.count))
        let events = try request.body.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        #expect(events.count == 3)
        #expect(events.map { $0["time"] as? Double } == [1_709_280_929, 1_709_280_929, 1_709_280_929])
        #expect(events.allSatisfy { $0["host"] as? String == "sensor-a" && $0["source"] as? String == "alertgate" && $0["sourcetype"] as? String == "alertgate:alert" })
        #expect(events.compactMap { ($0["event"] as? [String: Any])?["id"] as? String } == ["alert-1", "alert-2", "alert-3"])
    }

    // MARK: Failures

    @Test func aLostConnectionFailsTheBatchesInFlightAsRetryAndTheNextSendReconnects() async throws {
        let server = try scripted(script: [.hangUp])
        let sender = try await gateway.sender(.init(endpoint: "https://127.0.0.1:\(server.port)/ingest", maxAlerts: 10))
        let lost = await sender.send(Gateway.alerts(30))
        #expect(lost.accepted == 0)
        guard case .retry(nil, let reason) = lost.outcome else {
            Issue.record("a lost connection must ask for a retry: \(lost)")
            return
        }
        #expect(reason.message.hasPrefix("partner splunk: "), "\(reason)")
        #expect(reason.message.contains("connection"), "\(reason)")

        #expect(await sender.send(Gateway.alerts(30)) == DeliveryReport(accepted: 30, outcome: .delivered))
        #expect(await sender.connectionsOpened == 2)
        #expect(server.connections == 2)
    }

    @Test func afterAGoAwayTheUnprocessedBatchesAreRetriedOnANewConnection() async throws {
        // All three requests are held until they are in; then the first (alerts 1-10) is
        // answered with GOAWAY naming its stream the last processed: the others are not.
        let server = try scripted(holdUntil: 3) { request in
            request.body.contains("\"alert-1\"") ? .answerAndGoAway(status: 200) : .answer(status: 200)
        }
        let sender = try await gateway.sender(.init(endpoint: "https://127.0.0.1:\(server.port)/ingest", maxAlerts: 10))
        let report = await sender.send(Gateway.alerts(30))
        #expect(report == DeliveryReport(accepted: 10, outcome: .retry(
            after: nil, reason: TransportError(message: "partner splunk: the partner refused the request unprocessed (REFUSED_STREAM)"))))
        #expect(await sender.connectionState?.goingAway == true)

        // The new connection holds its first three answers too.
        #expect(await sender.send(Gateway.alerts(30, from: 11)) == DeliveryReport(accepted: 30, outcome: .delivered))
        #expect(await sender.connectionsOpened == 2)
        #expect(server.connections == 2)
        #expect(server.resetsReceived == 0)
    }

    @Test func aSilentPartnerTimesOutAndTheBatchIsRetried() async throws {
        let server = try scripted(holdUntil: 1000)
        let sender = try await gateway.sender(.init(endpoint: "https://127.0.0.1:\(server.port)/ingest"))
        await sender.setResponseTimeout(.seconds(1))
        let started = ContinuousClock.now
        let report = await sender.send(Gateway.alerts(10))
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(report == DeliveryReport(accepted: 0, outcome: .retry(
            after: nil, reason: TransportError(message: "partner splunk: the partner sent nothing for 1 s while 1 requests waited for an answer"))))
    }

    @Test func closeLetsTheNextSendOpenANewConnection() async throws {
        let server = try scripted()
        let sender = try await gateway.sender(.init(endpoint: "https://127.0.0.1:\(server.port)/ingest"))
        #expect(await sender.send(Gateway.alerts(2)) == DeliveryReport(accepted: 2, outcome: .delivered))
        await sender.close()
        #expect(await sender.send(Gateway.alerts(2)) == DeliveryReport(accepted: 2, outcome: .delivered))
        #expect(server.connections == 2)
        #expect(server.resetsReceived == 0)
    }

    @Test func anHTTP1OnlyServerDoesNotSpeakHTTP2() async throws {
        let issued = try gateway.pki.issue("www", commonName: "siem.contoso.com")
        let server = try await OpenSSLServer(certificate: issued.certificate, key: issued.key, chain: gateway.pki.chainFile, mode: .www)
        let sender = try await gateway.sender(.init(endpoint: "https://127.0.0.1:\(server.port)/ingest"))
        let report = await sender.send(Gateway.alerts(3))
        #expect(report.accepted == 0)
        guard case .retry(nil, let reason) = report.outcome else {
            Issue.record("expected a retry: \(report)")
            return
        }
        #expect(reason.message == "partner splunk does not speak HTTP/2: TLS ALPN agreed on no protocol")
        // Nothing of HTTP/2 reached it: no connection preface.
        #expect(!server.output.contains("PRI * HTTP/2.0"))
    }
}
