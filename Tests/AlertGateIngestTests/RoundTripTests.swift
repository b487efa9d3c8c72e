import AlertGateCore
import AlertGateIngest
import Foundation
import NIOCore
import Testing

/// What alertgate sends, alertgate reads back: a gateway downstream of another (or a test
/// harness) sees the same alert.
@Suite("Round trip: AlertFormatter → AlertParser")
struct RoundTripTests {
    static let receivedAt = Date(timeIntervalSince1970: 1_709_280_930.250)

    static let alerts: [Alert] = [
        Alert(
            id: "5f1c2e9a-0b7d-4c1e-9a53-2f8e4d6b7a10",
            receivedAt: receivedAt,
            time: Date(timeIntervalSince1970: 1_709_280_929.125),
            severity: .major,
            title: "Unauthorized PLC Programming",
            message: "The source device 10.1.0.5 programmed PLC 10.1.0.20 outside a maintenance window",
            protocolName: "s7comm",
            engine: "policy",
            sensor: "sensor-1",
            sourceIP: "10.1.0.5",
            destinationIP: "10.1.0.20",
            sourceMAC: "00:1a:2b:3c:4d:5e",
            destinationMAC: "00:1a:2b:3c:4d:5f",
            category: "Programming",
            appliance: "plant-a-sensor"
        ),
        Alert(id: "a1", receivedAt: receivedAt, severity: .warning, title: "Sensor Traffic Stopped", appliance: "sensor-2"),
        // Every character some format escapes, in every field that carries text.
        Alert(
            id: #"id "with" \ and ] and = and |"#,
            receivedAt: receivedAt,
            time: Date(timeIntervalSince1970: 1_709_280_929.999),
            severity: .critical,
            title: #"Pipe | back\slash = equals "quote" ]bracket[ {brace} tab\#té 🚀 trailing\"#,
            message: "line one\nline two\r\n\tindented key=value other=x | pipe \\n literal \"q\" ] end\\",
            protocolName: "modbus/tcp = 502",
            engine: "anomaly",
            sensor: "sensor | 3",
            sourceIP: "fe80::1%eth0",
            destinationIP: "10.0.0.255",
            sourceMAC: "aa:bb:cc:dd:ee:ff",
            destinationMAC: "AA-BB-CC-DD-EE-00",
            category: "Cat=\"egory\" with spaces",
            appliance: "plant \"b\""
        ),
        Alert(
            id: "c-3",
            receivedAt: receivedAt,
            severity: .minor,
            title: "Unknown engine",
            message: "",
            engine: "Custom Engine",
            sourceIP: "192.168.0.1",
            appliance: "console-1"
        ),
    ]

    static func roundTrip(_ alert: Alert, _ format: AlertFormat) -> ParseResult {
        let formatter = AlertFormatter(format: format, hostname: "gw01.plant.example", productVersion: "1.2.0")
        var buffer = ByteBufferAllocator().buffer(capacity: 0)
        formatter.writeSyslogMessage(alert, into: &buffer)
        return AlertParser().parse(buffer, receivedAt: Date(), appliance: "downstream", sourceAddress: "10.0.0.1")
    }

    static func expected<T: Equatable>(_ value: T?) -> T? {
        guard let text = value as? String else { return value }
        return text.isEmpty ? nil : value  // formats leave empty fields out
    }

    @Test("CEF carries the whole alert", arguments: alerts)
    func cef(alert: Alert) {
        let result = Self.roundTrip(alert, .cef)
        #expect(result.recognized == [.rfc5424, .cef])
        Self.expectCommon(result.alert, alert)
        Self.expectAddressing(result.alert, alert)
        #expect(result.alert.sourceMAC == alert.sourceMAC)
        #expect(result.alert.destinationMAC == alert.destinationMAC)
        #expect(result.alert.category == alert.category)
        #expect(result.alert.sensor == (alert.sensor ?? alert.appliance))
    }

    @Test("JSON carries the whole alert", arguments: alerts)
    func json(alert: Alert) {
        let result = Self.roundTrip(alert, .json)
        #expect(result.recognized == [.rfc5424, .json])
        Self.expectCommon(result.alert, alert)
        Self.expectAddressing(result.alert, alert)
        #expect(result.alert.sourceMAC == alert.sourceMAC)
        #expect(result.alert.destinationMAC == alert.destinationMAC)
        #expect(result.alert.category == alert.category)
        #expect(result.alert.sensor == (alert.sensor ?? alert.appliance), "no sensor: the upstream appliance, from the structured data")
    }

    @Test("LEEF carries all but the MAC addresses (the id travels in the envelope)", arguments: alerts)
    func leef(alert: Alert) {
        let result = Self.roundTrip(alert, .leef)
        #expect(result.recognized == [.rfc5424, .leef])
        // A LEEF value cannot hold the delimiter (TAB) or a line break: they arrive as spaces.
        var sent = alert
        sent.title = Self.leefValue(alert.title)
        sent.message = alert.message.map(Self.leefValue)
        Self.expectCommon(result.alert, sent)
        Self.expectAddressing(result.alert, alert)
        #expect(result.alert.category == alert.category)
    }

    @Test("RFC 5424 text carries id, severity, title, message and time", arguments: alerts)
    func text(alert: Alert) {
        let result = Self.roundTrip(alert, .rfc5424)
        #expect(result.recognized == [.rfc5424])
        Self.expectCommon(result.alert, alert)
        #expect(result.alert.sensor == alert.appliance, "the upstream appliance, from the structured data")
    }

    @Test("an alert forwarded raw upstream stays raw downstream", arguments: [AlertFormat.cef, .json])
    func rawAlert(format: AlertFormat) {
        let upstream = Fixtures.parse("<13>Mar  1 08:15:30 plc-gw kernel: eth1 link down").alert
        let result = Self.roundTrip(upstream, format)
        #expect(result.alert.id == upstream.id)
        #expect(result.alert.title == upstream.title)
        #expect((result.alert.raw ?? result.alert.message) == upstream.raw)
    }

    /// What the formats themselves cannot carry: Defender's LEEF layout has no MAC fields,
    /// and the RFC 5424 text payload is `title: message` for people, so a partner given
    /// those formats gets less. Asserted as it is, so a change of format shows up here.
    @Test("what LEEF and the RFC 5424 text payload do not carry (the formats' limits)")
    func formatLimits() {
        let alert = Self.alerts[0]
        let leef = Self.roundTrip(alert, .leef).alert
        #expect(leef.sourceMAC == nil)
        #expect(leef.destinationMAC == nil)
        #expect(leef.sourceIP == alert.sourceIP)

        let text = Self.roundTrip(alert, .rfc5424).alert
        #expect(text.protocolName == nil)
        #expect(text.engine == nil)
        #expect(text.sourceIP == nil)
        #expect(text.title == alert.title)
        #expect(text.message == alert.message)

        // A title holding ": " splits at the first one.
        let colonTitle = Alert(id: "t", receivedAt: Self.receivedAt, severity: .minor, title: "Modbus: illegal function", appliance: "a")
        let split = Self.roundTrip(colonTitle, .rfc5424).alert
        #expect(split.title == "Modbus")
        #expect(split.message == "illegal function")
    }

    // MARK: -

    /// The time too: the alert's own, else (in the envelope) when the upstream gateway received it, to the millisecond.
    static func leefValue(_ text: String) -> String {
        // Byte by byte, as the formatter writes it (CR LF is two spaces).
        var result = String.UnicodeScalarView()
        result.append(contentsOf: text.unicodeScalars.map { $0 == "\t" || $0 == "\n" || $0 == "\r" ? " " : $0 })
        return String(result)
    }

    static func expectCommon(_ parsed: Alert, _ alert: Alert, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(parsed.id == alert.id, sourceLocation: sourceLocation)
        #expect(parsed.severity == alert.severity, sourceLocation: sourceLocation)
        #expect(parsed.title == alert.title, sourceLocation: sourceLocation)
        #expect(parsed.message == expected(alert.message), sourceLocation: sourceLocation)
        let time = alert.time ?? alert.receivedAt
        #expect(parsed.time.map { abs($0.timeIntervalSince(time)) < 0.000_5 } == true, "\(String(describing: parsed.time)) vs \(time)", sourceLocation: sourceLocation)
        #expect(parsed.appliance == "downstream", sourceLocation: sourceLocation)
        #expect(parsed.raw == nil, sourceLocation: sourceLocation)
    }

    static func expectAddressing(_ parsed: Alert, _ alert: Alert, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(parsed.protocolName == alert.protocolName, sourceLocation: sourceLocation)
        #expect(parsed.engine == alert.engine, sourceLocation: sourceLocation)
        #expect(parsed.sourceIP == alert.sourceIP, sourceLocation: sourceLocation)
        #expect(parsed.destinationIP == alert.destinationIP, sourceLocation: sourceLocation)
    }
}
