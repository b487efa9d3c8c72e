import AlertGateCore
import NIOCore
import Testing

@Suite("RFC 5424 envelope and text payload")
struct SyslogMessageTests {
    static let header = #"<11>1 2024-03-01T08:15:29.125Z gw01.plant.example alertgate - alert "#
        + #"[alertgate@32473 id="5f1c2e9a-0b7d-4c1e-9a53-2f8e4d6b7a10" appliance="plant-a-sensor" severity="major"] "#

    @Test("the text payload is title: message")
    func textPayload() {
        let formatter = Fixtures.formatter(.rfc5424)
        #expect(
            formatter.payload(Fixtures.full)
                == "Unauthorized PLC Programming: The source device 10.1.0.5 programmed PLC 10.1.0.20 outside a maintenance window"
        )
        #expect(formatter.payload(Fixtures.minimal) == "Sensor Traffic Stopped")
        #expect(formatter.payload(Fixtures.unparsed) == "<13>Mar  1 08:15:30 plc-gw kernel: eth1 link down")
        #expect(formatter.payload(Fixtures.with(Fixtures.minimal) { $0.title = ""; $0.message = "only a message" }) == "only a message")
        // An alert no parser understood (raw text, no message) goes out as it came: its
        // title is only the text's head.
        #expect(formatter.payload(Fixtures.with(Fixtures.minimal) { $0.raw = "raw" }) == "raw")
    }

    @Test("a complete message around each format's payload")
    func fullMessages() {
        #expect(
            Fixtures.formatter(.rfc5424).syslogMessage(Fixtures.full)
                == Self.header + "Unauthorized PLC Programming: The source device 10.1.0.5 programmed PLC 10.1.0.20 outside a maintenance window"
        )
        for format in [AlertFormat.cef, .leef, .json] {
            let formatter = Fixtures.formatter(format)
            #expect(formatter.syslogMessage(Fixtures.full) == Self.header + formatter.payload(Fixtures.full), "\(format)")
        }
        #expect(
            Fixtures.formatter(.cef).syslogMessage(Fixtures.minimal)
                == #"<13>1 2024-03-01T08:15:30.250Z gw01.plant.example alertgate - alert [alertgate@32473 id="a1" appliance="sensor-2" severity="warning"] "#
                + "CEF:0|Microsoft Defender for IoT|sensor-2|1.2.0|Microsoft Defender for IoT Alert|Sensor Traffic Stopped|1|severity=Warning UUID=a1"
        )
    }

    @Test(
        "PRI is facility user (1) with the severity's syslog level",
        arguments: [(Severity.critical, "<10>", 2), (.major, "<11>", 3), (.minor, "<12>", 4), (.warning, "<13>", 5)]
    )
    func priority(level: Severity, pri: String, syslogSeverity: Int) {
        let message = Fixtures.formatter(.json).syslogMessage(Fixtures.with(Fixtures.minimal) { $0.severity = level })
        #expect(message.hasPrefix(pri + "1 2024-03-01T08:15:30.250Z "))
        #expect(message.contains(#" severity="\#(level.rawValue)"] "#))
        #expect(level.syslogSeverity == syslogSeverity)
    }

    @Test("TIMESTAMP is the alert's time, else when it was received")
    func timestamp() {
        let formatter = Fixtures.formatter(.rfc5424)
        #expect(formatter.syslogMessage(Fixtures.full).hasPrefix("<11>1 2024-03-01T08:15:29.125Z "))
        #expect(formatter.syslogMessage(Fixtures.minimal).hasPrefix("<13>1 2024-03-01T08:15:30.250Z "))
    }

    @Test("quote, backslash and ] are escaped in SD-PARAM values")
    func structuredDataEscaping() {
        let alert = Fixtures.with(Fixtures.minimal) {
            $0.id = #"id "quoted" \ [x]"#
            $0.appliance = #"plant]a"#
        }
        let message = Fixtures.formatter(.rfc5424).syslogMessage(alert)
        #expect(message.contains(#"[alertgate@32473 id="id \"quoted\" \\ [x\]" appliance="plant\]a" severity="warning"] Sensor Traffic Stopped"#))
    }

    @Test("HOSTNAME is printable US-ASCII: spaces and non-ASCII become _, empty becomes -")
    func hostname() {
        #expect(Fixtures.formatter(.rfc5424, hostname: "gw 01 ünï").syslogMessage(Fixtures.minimal).hasPrefix("<13>1 2024-03-01T08:15:30.250Z gw_01__n_ alertgate - alert "))
        #expect(Fixtures.formatter(.rfc5424, hostname: "").syslogMessage(Fixtures.minimal).hasPrefix("<13>1 2024-03-01T08:15:30.250Z - alertgate - alert "))
        let long = String(repeating: "h", count: 300)
        #expect(Fixtures.formatter(.rfc5424, hostname: long).syslogMessage(Fixtures.minimal).contains(" \(String(repeating: "h", count: 255)) alertgate "))
    }

    @Test("an empty payload leaves no trailing space")
    func emptyPayload() {
        let alert = Fixtures.with(Fixtures.minimal) { $0.title = "" }
        #expect(
            Fixtures.formatter(.rfc5424).syslogMessage(alert)
                == #"<13>1 2024-03-01T08:15:30.250Z gw01.plant.example alertgate - alert [alertgate@32473 id="a1" appliance="sensor-2" severity="warning"]"#
        )
    }

    @Test("no BOM, nothing truncated, and the text payload keeps its line breaks")
    func bytesAsSent() {
        let long = String(repeating: "x", count: 70_000)
        let alert = Fixtures.with(Fixtures.minimal) { $0.message = "first line\nsecond line " + long }
        let message = Fixtures.formatter(.rfc5424).syslogMessage(alert)
        #expect(message.hasSuffix("] Sensor Traffic Stopped: first line\nsecond line " + long))
        #expect(!message.utf8.starts(with: [0xEF, 0xBB, 0xBF]))
        #expect(!message.contains("\u{FEFF}"))
    }

    @Test("writing appends to what the buffer already holds")
    func appends() {
        let formatter = Fixtures.formatter(.json)
        var buffer = ByteBufferAllocator().buffer(capacity: 16)
        buffer.writeString("123 ")
        formatter.writeSyslogMessage(Fixtures.minimal, into: &buffer)
        formatter.writePayload(Fixtures.minimal, into: &buffer)
        #expect(String(buffer: buffer) == "123 " + formatter.syslogMessage(Fixtures.minimal) + formatter.payload(Fixtures.minimal))
    }
}
