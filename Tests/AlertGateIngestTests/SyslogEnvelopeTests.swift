import AlertGateCore
import AlertGateIngest
import Foundation
import Testing

@Suite("Syslog envelopes: RFC 5424, RFC 3164, PRI")
struct SyslogEnvelopeTests {
    @Test("alertgate's own RFC 5424 message gives the id, severity and appliance of its structured data")
    func ownStructuredData() {
        let result = Fixtures.parse(
            #"<11>1 2024-03-01T08:15:29.125Z gw01 alertgate - alert [alertgate@32473 id="5f1c2e9a" appliance="sensor-1" severity="major"] PLC Stop: sent by 10.1.0.5"#
        )
        #expect(result.recognized == [.rfc5424])
        #expect(result.alert.id == "5f1c2e9a")
        #expect(result.alert.severity == .major)
        #expect(result.alert.title == "PLC Stop")
        #expect(result.alert.message == "sent by 10.1.0.5")
        #expect(result.alert.time == Fixtures.date("2024-03-01T08:15:29.125Z"))
        #expect(result.alert.sensor == "sensor-1")
        #expect(result.alert.appliance == "plant-a", "the listener's attribution, not the sender's")
        #expect(result.alert.raw == nil)
        #expect(result.problems.isEmpty)
    }

    @Test("structured-data values keep their escaped quote, bracket and backslash")
    func structuredDataEscapes() {
        let result = Fixtures.parse(
            #"<13>1 - - alertgate - alert [other@1 a="x\]y" b="\"q\""][alertgate@32473 id="a\"b\]c\\d" severity="minor"] Title"#
        )
        #expect(result.alert.id == #"a"b]c\d"#)
        #expect(result.alert.severity == .minor)
        #expect(result.alert.title == "Title")
        #expect(result.alert.time == nil, "a NILVALUE timestamp")
    }

    @Test("another device's RFC 5424 text message is forwarded raw, with what the header told")
    func foreignRFC5424() {
        let text = #"<12>1 2024-03-01T09:15:29.5+01:00 plc-7 modbusd 42 ID47 [exampleSDID@32473 iut="3" eventSource="App\"lication"] Coil write refused"#
        let result = Fixtures.parse(text)
        #expect(result.recognized == [.rfc5424, .raw])
        #expect(result.alert.title == "Coil write refused")
        #expect(result.alert.raw == text)
        #expect(result.alert.severity == .minor, "PRI 12: severity 4, Warning")
        #expect(result.alert.time == Fixtures.date("2024-03-01T08:15:29.500Z"))
        #expect(result.alert.sensor == "plc-7")
        #expect(Fixtures.isGeneratedID(result.alert.id))
    }

    @Test("a BOM before the MSG is not part of the payload")
    func byteOrderMark() {
        let result = Fixtures.parse("<14>1 - - - - - - \u{FEFF}CEF:0|Vendor|sensor-9|1|sig|Title|4|msg=hello")
        #expect(result.recognized == [.rfc5424, .cef])
        #expect(result.alert.title == "Title")
        #expect(result.alert.message == "hello")
    }

    @Test("an RFC 5424 timestamp that is not a date is flagged; the message still parses")
    func unreadableTimestamp() {
        let result = Fixtures.parse("<13>1 2024-02-30T00:00:00Z host app - - - text")
        #expect(result.recognized == [.rfc5424, .raw])
        #expect(result.problems == [.unreadableTime])
        #expect(result.alert.time == nil)
        #expect(result.alert.title == "text")
    }

    @Test(
        "RFC 3339 forms in the header",
        arguments: [
            ("2024-03-01T08:15:29Z", "2024-03-01T08:15:29Z"),
            ("2024-03-01T09:15:29.123456+01:00", "2024-03-01T08:15:29.123Z"),
            ("2024-02-29T23:00:00-05:30", "2024-03-01T04:30:00Z"),
            ("1999-12-31t23:59:59.9z", "1999-12-31T23:59:59.900Z"),
        ]
    )
    func rfc3339(timestamp: String, expected: String) throws {
        let time = try #require(Fixtures.parse("<13>1 \(timestamp) host app - - - text").alert.time)
        #expect(abs(time.timeIntervalSince(Fixtures.date(expected))) < 0.000_5)
    }

    @Test("microseconds are kept")
    func microseconds() throws {
        let time = try #require(Fixtures.parse("<13>1 2024-03-01T08:15:29.123456Z h a - - - t").alert.time)
        #expect(abs(time.timeIntervalSince1970 - 1_709_280_929.123456) < 0.000_001)
    }

    // MARK: - RFC 3164

    @Test("a BSD syslog line: hostname, tag and text, the year from when it arrived")
    func rfc3164() {
        let text = "<13>Mar  1 08:15:30 plc-gw kernel: eth1 link down"
        let result = Fixtures.parse(text)
        #expect(result.recognized == [.rfc3164, .raw])
        #expect(result.alert.title == "kernel: eth1 link down")
        #expect(result.alert.raw == text)
        #expect(result.alert.sensor == "plc-gw")
        #expect(result.alert.time == Fixtures.date("2024-03-01T08:15:30Z"))
        #expect(result.alert.severity == .warning)
    }

    @Test("without a hostname, the tag is not taken for one")
    func rfc3164WithoutHost() {
        let result = Fixtures.parse("<10>Mar 01 08:15:30 sshd[812]: Failed password for root")
        #expect(result.recognized == [.rfc3164, .raw])
        #expect(result.alert.title == "sshd[812]: Failed password for root")
        #expect(result.alert.sensor == "10.9.9.9", "no hostname: the sender's address")
        #expect(result.alert.severity == .critical)
    }

    @Test("a date in late December read on New Year's Day belongs to the year before")
    func yearRollover() {
        let newYear = Fixtures.date("2024-01-01T00:00:05Z")
        let result = AlertParser().parse(
            "<13>Dec 31 23:59:58 host app: late", receivedAt: newYear, appliance: "a", sourceAddress: nil
        )
        #expect(result.alert.time == Fixtures.date("2023-12-31T23:59:58Z"))
    }

    @Test("Defender's CEF after a BSD header (hostname = the sensor's address)")
    func defenderCEFOverBSD() {
        let result = Fixtures.parse(
            "<9>Mar  1 08:15:30 10.1.0.2 CEF:0|Microsoft Defender for IoT|sensor-1|22.3.5|Microsoft Defender for IoT Alert|PLC Stop Command Was Sent|8|msg=Stop sent protocol=S7 severity=Major type=Policy Violation UUID=0d0c8f4e-1b8e-4a9e-b1f2-5f1b2a3c4d5e"
        )
        #expect(result.recognized == [.rfc3164, .cef])
        #expect(result.alert.title == "PLC Stop Command Was Sent")
        #expect(result.alert.sensor == "sensor-1")
        #expect(result.alert.id == "0d0c8f4e-1b8e-4a9e-b1f2-5f1b2a3c4d5e")
        #expect(result.alert.severity == .major, "the payload's severity, not PRI 9's (alert → critical)")
    }

    @Test("a tag before the payload is skipped")
    func tagBeforePayload() {
        let result = Fixtures.parse(#"<14>Mar  1 08:15:30 host forwarder[77]: {"title":"Port scan","severity":"minor"}"#)
        #expect(result.recognized == [.rfc3164, .json])
        #expect(result.alert.title == "Port scan")
    }

    @Test("an RFC 3339 timestamp in a BSD line (rsyslog's high-precision template)")
    func rfc3164WithISOTimestamp() {
        let result = Fixtures.parse("<13>2024-03-01T08:15:30.5Z host app: text")
        #expect(result.recognized == [.rfc3164, .raw])
        #expect(result.alert.time == Fixtures.date("2024-03-01T08:15:30.500Z"))
        #expect(result.alert.sensor == "host")
    }

    // MARK: - PRI

    @Test(
        "without a severity in the payload, the PRI's severity: 0–2 critical, 3 major, 4 minor, 5–7 warning",
        arguments: [
            (0, Severity.critical), (1, .critical), (2, .critical), (3, .major), (4, .minor), (5, .warning), (6, .warning),
            (7, .warning),
        ]
    )
    func prioritySeverity(level: Int, expected: Severity) {
        let priority = 16 * 8 + level  // facility local0
        #expect(Fixtures.parse("<\(priority)>Mar  1 08:15:30 host app: text").alert.severity == expected)
        #expect(Fixtures.parse("<\(priority)>1 - host app - - - text").alert.severity == expected)
        #expect(Fixtures.parse("<\(priority)>no header at all").alert.severity == expected)
    }

    @Test("a PRI out of range is no PRI: the message is raw text at warning")
    func invalidPriority() {
        let result = Fixtures.parse("<999>1 - host app - - - text")
        #expect(result.recognized == [.raw])
        #expect(result.alert.severity == .warning)
        #expect(result.alert.title == "<999>1 - host app - - - text")
    }

    @Test("a UDP datagram's trailing newline is not part of the message")
    func trailingNewline() {
        let result = Fixtures.parse("<13>Mar  1 08:15:30 host app: text\r\n")
        #expect(result.alert.raw == "<13>Mar  1 08:15:30 host app: text")
    }
}
