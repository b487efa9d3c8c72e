import AlertGateCore
import Foundation
import NIOCore
import Testing

@testable import HTTP2Transport

/// The http2 plugin's pure parts, without a network: endpoints, header checks, batches and
/// bodies, and what a partner's answer means.
@Suite struct HTTP2LogicTests {
    func partner(_ endpoint: String, headers: [PartnerSettings.HeaderField] = [], format: AlertFormat = .json, batch: PartnerSettings.BatchLimits = .init()) -> PartnerSettings {
        PartnerSettings(name: "splunk", transport: "http2", endpoint: endpoint, format: format, headers: headers, batch: batch)
    }

    static func alert(_ index: Int, sensor: String? = "sensor-a", time: Date? = Date(timeIntervalSince1970: 1_709_280_929.125)) -> Alert {
        Alert(
            id: "alert-\(index)", receivedAt: Date(timeIntervalSince1970: 1_709_280_930), time: time, severity: .major,
            title: "Unauthorized PLC write seq=\(index)", message: "line \"one\"\nline two", protocolName: "modbus", engine: "policy",
            sensor: sensor, sourceIP: "10.1.2.3", destinationIP: "10.1.2.4", appliance: "sensor-1")
    }

    static let formatter = AlertFormatter(format: .json, hostname: "gw", productVersion: "0.1.0")

    // MARK: Endpoint

    @Test func endpointTakesHostPortAndPath() throws {
        let transport = HTTP2Transport()
        let destination = try transport.destination(of: partner("https://splunk.example.com:8088/services/collector/event"))
        #expect(destination == Destination(host: "splunk.example.com", port: 8088, applicationProtocols: ["h2"]))
        let endpoint = try HTTP2Endpoint(partner("https://splunk.example.com:8088/services/collector/event"))
        #expect(endpoint.authority == "splunk.example.com:8088")
        #expect(endpoint.path == "/services/collector/event")
        #expect(endpoint.isSplunkHEC)
    }

    @Test func endpointDefaultsToPort443AndRootPath() throws {
        let endpoint = try HTTP2Endpoint(partner("https://siem.example.com"))
        #expect(endpoint.host == "siem.example.com")
        #expect(endpoint.port == 443)
        #expect(endpoint.path == "/")
        #expect(try HTTP2Endpoint(partner("https://siem.example.com?token=1")).path == "/?token=1")
        #expect(!(try HTTP2Endpoint(partner("https://siem.example.com/ingest")).isSplunkHEC))
        #expect(!(try HTTP2Endpoint(partner("https://splunk:8088/services/collector/raw")).isSplunkHEC))
    }

    @Test func endpointTakesIPv6Literals() throws {
        let endpoint = try HTTP2Endpoint(partner("https://[fd00::5]:9443/in"))
        #expect(endpoint.host == "fd00::5")
        #expect(endpoint.port == 9443)
        #expect(endpoint.authority == "[fd00::5]:9443")
    }

    @Test func theRequestAuthorityIsTheServerNameLikeSNIWithThePortUnless443() throws {
        // A name-based front (nginx virtual hosts) routes by :authority: it must name the
        // host the handshake went to, not the address the endpoint dials.
        let byAddress = try HTTP2Endpoint(partner("https://127.0.0.1:8443/ingest"))
        #expect(byAddress.requestAuthority(serverName: "partner.test") == "partner.test:8443")
        #expect(byAddress.requestAuthority(serverName: nil) == "127.0.0.1:8443")
        #expect(byAddress.requestAuthority(serverName: "") == "127.0.0.1:8443")
        let onDefaultPort = try HTTP2Endpoint(partner("https://10.0.0.5/services/collector"))
        #expect(onDefaultPort.requestAuthority(serverName: "splunk.contoso.com") == "splunk.contoso.com")
        #expect(try HTTP2Endpoint(partner("https://[fd00::5]:9443/in")).requestAuthority(serverName: "fd00::5") == "[fd00::5]:9443")
    }

    @Test func plainHTTPIsRefusedBecauseTLSIsMandatory() {
        let problems = HTTP2Transport().validate(partner("http://splunk.example.com:8088/services/collector"))
        #expect(problems == [
            "partner splunk: endpoint \"http://splunk.example.com:8088/services/collector\" uses http://, but the http2 transport sends over TLS only: write https://"
        ])
        #expect(throws: TransportError.self) { try HTTP2Transport().destination(of: partner("http://x/")) }
    }

    @Test(arguments: [
        ("splunk.example.com:8088", "is not an https:// URL"),
        ("https://:8088/x", "names no host"),
        ("https://host:0/x", "has no valid port"),
        ("https://host:99999/x", "has no valid port"),
        ("https://host:abc/x", "has no valid port"),
        ("https://user:pw@host/x", "has user information"),
        ("https://[fd00::1/x", "has an unclosed ["),
        ("https://host/x#frag", "#fragment"),
        ("https://host/a b", "spaces or control characters"),
    ])
    func badEndpointsNameThePartnerAndTheField(endpoint: String, why: String) {
        let problems = HTTP2Transport().validate(partner(endpoint))
        #expect(problems.count == 1)
        #expect(problems.first?.hasPrefix("partner splunk: endpoint \"\(endpoint)\"") == true, "\(problems)")
        #expect(problems.first?.contains(why) == true, "\(problems)")
    }

    // MARK: Headers

    @Test func theUserAgentFollowsTheContentTypeUnlessThePartnerSetsOne() {
        let fields = HTTP2RequestHeaders.fields(partner: [], contentType: "application/json", contentLength: 7, userAgent: "alertgate/1.2.3")
        #expect(fields == [
            .init(name: "content-type", value: "application/json"),
            .init(name: "user-agent", value: "alertgate/1.2.3"),
            .init(name: "content-length", value: "7"),
        ])
        let own = HTTP2RequestHeaders.fields(partner: [.init(name: "User-Agent", value: "site-gw")], contentType: "application/json", contentLength: 7, userAgent: "alertgate/1.2.3")
        #expect(own.filter { $0.name == "user-agent" } == [.init(name: "user-agent", value: "site-gw")])
    }

    @Test func headersAreLowercasedAfterContentTypeAndLength() {
        let fields = HTTP2RequestHeaders.fields(
            partner: [.init(name: "Authorization", value: "Splunk abc"), .init(name: "X-Splunk-Request-Channel", value: "c1")],
            contentType: "application/json", contentLength: 42)
        #expect(fields == [
            .init(name: "content-type", value: "application/json"),
            .init(name: "content-length", value: "42"),
            .init(name: "authorization", value: "Splunk abc"),
            .init(name: "x-splunk-request-channel", value: "c1"),
        ])
        // A partner's own content type wins.
        let own = HTTP2RequestHeaders.fields(partner: [.init(name: "Content-Type", value: "application/x-ndjson")], contentType: "application/json", contentLength: 1)
        #expect(own == [.init(name: "content-length", value: "1"), .init(name: "content-type", value: "application/x-ndjson")])
    }

    @Test func forbiddenAndInvalidHeadersAreReported() {
        let problems = HTTP2Transport().validate(partner("https://h/x", headers: [
            .init(name: "Connection", value: "keep-alive"),
            .init(name: "Content-Length", value: "5"),
            .init(name: "Bad Name", value: "x"),
            .init(name: "X-Token", value: "a\r\nInjected: yes"),
        ]))
        #expect(problems == [
            "partner splunk: headers: Connection cannot be set: HTTP/2 forbids connection-specific fields",
            "partner splunk: headers: Content-Length cannot be set: the transport sets it to the size of each batch",
            "partner splunk: headers: \"Bad Name\" is not a valid header name",
            "partner splunk: headers: the value of X-Token holds control characters (line breaks are not allowed)",
        ])
        #expect(HTTP2Transport().validate(partner("https://h/x", headers: [.init(name: "Authorization", value: "Splunk t")])).isEmpty)
    }

    // MARK: Batches

    @Test func alertsAreCutByMaxAlerts() {
        let maker = HTTP2BatchMaker(body: .ndjson, formatter: Self.formatter, limits: .init(maxAlerts: 500))
        let batches = maker.batches((0..<1200).map { Self.alert($0) }, allocator: ByteBufferAllocator())
        #expect(batches.map(\.alertCount) == [500, 500, 200])
        let lines = batches.flatMap { String(buffer: $0.body).split(separator: "\n", omittingEmptySubsequences: false).dropLast() }
        #expect(lines.count == 1200)
        #expect(lines.first?.hasPrefix("{\"id\":\"alert-0\"") == true)
        #expect(lines.last?.hasPrefix("{\"id\":\"alert-1199\"") == true)
        #expect(batches.allSatisfy { String(buffer: $0.body).hasSuffix("}\n") })
    }

    @Test func alertsAreCutByMaxBytesAndAnOversizedAlertTravelsAlone() {
        let line = Self.formatter.payload(Self.alert(0)).utf8.count + 1
        let maker = HTTP2BatchMaker(body: .ndjson, formatter: Self.formatter, limits: .init(maxAlerts: 100, maxBytes: 3 * line + 2))
        let batches = maker.batches((0..<7).map { Self.alert($0) }, allocator: ByteBufferAllocator())
        #expect(batches.map(\.alertCount) == [3, 3, 1])
        #expect(batches.allSatisfy { $0.body.readableBytes <= 3 * line + 2 })

        let tiny = HTTP2BatchMaker(body: .ndjson, formatter: Self.formatter, limits: .init(maxAlerts: 100, maxBytes: 10))
        let alone = tiny.batches((0..<3).map { Self.alert($0) }, allocator: ByteBufferAllocator())
        #expect(alone.map(\.alertCount) == [1, 1, 1])
        #expect(String(buffer: alone[1].body) == Self.formatter.payload(Self.alert(1)) + "\n")
    }

    @Test func splunkHECBodiesAreEventObjects() throws {
        let maker = HTTP2BatchMaker(body: .splunkHEC, formatter: Self.formatter, limits: .init())
        let alerts = [Self.alert(1), Self.alert(2, sensor: nil, time: nil)]
        let body = String(buffer: maker.batches(alerts, allocator: ByteBufferAllocator())[0].body)
        let records = body.split(separator: "\n")
        #expect(records.count == 2)
        #expect(records[0].hasPrefix("{\"time\":1709280929.125,\"host\":\"sensor-a\",\"source\":\"alertgate\",\"sourcetype\":\"alertgate:alert\",\"event\":{\"id\":\"alert-1\""))
        // No alert time: when it was received. No sensor: the appliance.
        #expect(records[1].hasPrefix("{\"time\":1709280930.000,\"host\":\"sensor-1\","))
        for record in records {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(record.utf8)) as? [String: Any])
            let event = try #require(object["event"] as? [String: Any])
            #expect(event["severity"] as? String == "major")
            #expect(event["message"] as? String == "line \"one\"\nline two")
        }
        #expect(maker.contentType(alertCount: 2) == "application/json")
    }

    @Test func splunkHECCarriesOtherFormatsAsStringEvents() throws {
        let cef = AlertFormatter(format: .cef, hostname: "gw", productVersion: "0.1.0")
        let maker = HTTP2BatchMaker(body: .splunkHEC, formatter: cef, limits: .init())
        let body = String(buffer: maker.batches([Self.alert(1)], allocator: ByteBufferAllocator())[0].body)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        #expect(object["event"] as? String == cef.payload(Self.alert(1)))
        #expect(HTTP2BatchMaker(body: .ndjson, formatter: cef, limits: .init()).contentType(alertCount: 3).hasPrefix("text/plain"))
    }

    @Test func severalJSONAlertsAreNDJSONAndOneIsJSON() {
        // Several objects one a line are not one JSON document (docs/reference.md §12).
        let ndjson = HTTP2BatchMaker(body: .ndjson, formatter: Self.formatter, limits: .init())
        #expect(ndjson.contentType(alertCount: 2) == "application/x-ndjson")
        #expect(ndjson.contentType(alertCount: 500) == "application/x-ndjson")
        #expect(ndjson.contentType(alertCount: 1) == "application/json")
    }

    @Test func epochSecondsKeepMilliseconds() {
        func text(_ seconds: Double) -> String {
            var buffer = ByteBuffer()
            HTTP2BatchMaker.writeEpochSeconds(Date(timeIntervalSince1970: seconds), into: &buffer)
            return String(buffer: buffer)
        }
        #expect(text(0) == "0.000")
        #expect(text(1_709_280_929.007) == "1709280929.007")
        #expect(text(12.5) == "12.500")
    }

    // MARK: Answers

    func response(_ status: Int, _ body: String = "", headers: [PartnerSettings.HeaderField] = []) -> HTTP2Response {
        HTTP2Response(status: status, headers: headers, body: ByteBuffer(string: body))
    }

    @Test func twoHundredsAccept() {
        #expect(HTTP2Verdict.outcome(of: response(200), partner: "splunk") == .accepted)
        #expect(HTTP2Verdict.outcome(of: response(204), partner: "splunk") == .accepted)
    }

    @Test func tooManyRequestsAndUnavailableRetryAfterTheirRetryAfter() {
        let busy = HTTP2Verdict.outcome(of: response(429, "slow down", headers: [.init(name: "retry-after", value: "7")]), partner: "splunk")
        #expect(busy == .deferred(after: .seconds(7), reason: "partner splunk answered HTTP 429 Too Many Requests (Retry-After: 7 s): slow down"))
        let down = HTTP2Verdict.outcome(of: response(503), partner: "splunk")
        #expect(down == .deferred(after: nil, reason: "partner splunk answered HTTP 503 Service Unavailable"))
    }

    @Test func retryAfterTakesSecondsOrAnHTTPDate() {
        let now = Date(timeIntervalSince1970: 784_111_767)  // Sun, 06 Nov 1994 08:49:27 GMT
        #expect(HTTP2Verdict.retryAfter("120", now: now) == .seconds(120))
        #expect(HTTP2Verdict.retryAfter(" 3 ", now: now) == .seconds(3))
        #expect(HTTP2Verdict.retryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == .seconds(10))
        #expect(HTTP2Verdict.retryAfter("Sun, 06 Nov 1994 08:49:17 GMT", now: now) == .zero)
        #expect(HTTP2Verdict.retryAfter("soon", now: now) == nil)
        #expect(HTTP2Verdict.retryAfter("-5", now: now) == nil)
        #expect(HTTP2Verdict.retryAfter("99999999999999999999", now: now) == .seconds(86_400))
    }

    @Test func otherClientErrorsRejectWithThePartnersAnswer() {
        let answer = String(repeating: "x", count: 3000)
        let outcome = HTTP2Verdict.outcome(of: response(400, "{\"text\":\"Invalid data format\",\"code\":6}"), partner: "splunk")
        #expect(outcome == .rejected(reason: "partner splunk rejected the batch with HTTP 400 Bad Request: {\"text\":\"Invalid data format\",\"code\":6}"))
        guard case .rejected(let long) = HTTP2Verdict.outcome(of: response(403, answer), partner: "splunk") else {
            Issue.record("403 must reject")
            return
        }
        #expect(long.contains(String(repeating: "x", count: 1024) + " …"))
        #expect(!long.contains(String(repeating: "x", count: 1025)))
    }

    @Test func serverErrorsAndRedirectsRetry() {
        #expect(HTTP2Verdict.outcome(of: response(500, "boom"), partner: "splunk") == .deferred(after: nil, reason: "partner splunk answered HTTP 500 Internal Server Error: boom"))
        #expect(HTTP2Verdict.outcome(of: response(502), partner: "splunk") == .deferred(after: nil, reason: "partner splunk answered HTTP 502 Bad Gateway"))
        guard case .retry(nil, let reason) = HTTP2Verdict.outcome(of: response(301, headers: [.init(name: "location", value: "https://new/")]), partner: "splunk") else {
            Issue.record("a redirect must be retried")
            return
        }
        #expect(reason.contains("to https://new/; redirects are not followed"))
    }

    @Test func misdirectedRequestIsRetriedNotRejected() {
        guard case .retry(nil, let reason) = HTTP2Verdict.outcome(of: response(421, "no such host"), partner: "splunk") else {
            Issue.record("421 must be retried on a new connection, not dead-lettered")
            return
        }
        #expect(reason == "partner splunk answered HTTP 421 Misdirected Request on this connection; retrying on a new connection: no such host")
    }

    @Test func theReportCountsAcceptedBatchesFromTheFirstOnly() {
        let counts = [500, 500, 200]
        #expect(HTTP2Verdict.report(alertCounts: counts, outcomes: [.accepted, .accepted, .accepted]) == DeliveryReport(accepted: 1200, outcome: .delivered))
        let retry = HTTP2Verdict.report(alertCounts: counts, outcomes: [.accepted, .retry(after: .seconds(2), reason: "busy"), .accepted])
        #expect(retry == DeliveryReport(accepted: 500, outcome: .retry(after: .seconds(2), reason: TransportError(message: "busy"))))
        let rejected = HTTP2Verdict.report(alertCounts: counts, outcomes: [.rejected(reason: "bad"), .accepted, .accepted])
        #expect(rejected == DeliveryReport(accepted: 0, outcome: .rejected(reason: "bad")))
    }
}

extension HTTP2LogicTests {
    /// SETTINGS that nghttp2 refuses (a window over 2^31-1) fail the session's creation; the
    /// session is freed once (it used to be freed here and again by `deinit`: a double free
    /// that glibc or the AddressSanitizer stage aborts on).
    @Test func aSessionWhoseSettingsCannotBeSubmittedIsFreedOnce() {
        for _ in 0..<3 {
            #expect(throws: HTTP2ClientError.self) {
                _ = try NGHTTP2Session(userData: nil, initialWindow: UInt32(1) << 31)
            }
        }
        // And a valid one is made and freed normally.
        #expect(throws: Never.self) { _ = try NGHTTP2Session(userData: nil) }
    }
}
