import AlertGateCore
import Testing

@Suite("CEF payload (Defender for IoT layout)")
struct CEFFormatTests {
    let formatter = Fixtures.formatter(.cef)

    @Test("an alert with every field renders as Defender's Syslog CEF")
    func fullAlert() {
        #expect(
            formatter.payload(Fixtures.full)
                == "CEF:0|Microsoft Defender for IoT|sensor-1|1.2.0|Microsoft Defender for IoT Alert|Unauthorized PLC Programming|8|"
                + "msg=The source device 10.1.0.5 programmed PLC 10.1.0.20 outside a maintenance window protocol=s7comm "
                + "severity=Major type=Policy Violation UUID=5f1c2e9a-0b7d-4c1e-9a53-2f8e4d6b7a10 start=Mar 01 2024 08:15:29.125 UTC "
                + "src_ip=10.1.0.5 src_mac=00:1a:2b:3c:4d:5e dst_ip=10.1.0.20 dst_mac=00:1a:2b:3c:4d:5f cat=Programming"
        )
    }

    @Test("absent fields are left out and the appliance stands in for the sensor")
    func minimalAlert() {
        #expect(
            formatter.payload(Fixtures.minimal)
                == "CEF:0|Microsoft Defender for IoT|sensor-2|1.2.0|Microsoft Defender for IoT Alert|Sensor Traffic Stopped|1|severity=Warning UUID=a1"
        )
    }

    @Test("empty optional fields are left out like absent ones")
    func emptyFields() {
        let alert = Fixtures.with(Fixtures.full) {
            $0.message = ""
            $0.protocolName = ""
            $0.sensor = ""
            $0.sourceMAC = ""
            $0.category = ""
        }
        #expect(
            formatter.payload(alert)
                == "CEF:0|Microsoft Defender for IoT|plant-a-sensor|1.2.0|Microsoft Defender for IoT Alert|Unauthorized PLC Programming|8|"
                + "severity=Major type=Policy Violation UUID=5f1c2e9a-0b7d-4c1e-9a53-2f8e4d6b7a10 start=Mar 01 2024 08:15:29.125 UTC "
                + "src_ip=10.1.0.5 dst_ip=10.1.0.20 dst_mac=00:1a:2b:3c:4d:5f"
        )
    }

    @Test("an unparsed message travels in msg=")
    func rawText() {
        #expect(
            formatter.payload(Fixtures.unparsed)
                == "CEF:0|Microsoft Defender for IoT|plc-gw|1.2.0|Microsoft Defender for IoT Alert||1|"
                + "msg=<13>Mar  1 08:15:30 plc-gw kernel: eth1 link down severity=Warning UUID=u-7"
        )
    }

    @Test(
        "the header carries 1/4/8/10 and severity= the word",
        arguments: [
            (Severity.warning, "1", "Warning"), (.minor, "4", "Minor"), (.major, "8", "Major"), (.critical, "10", "Critical"),
        ]
    )
    func severity(level: Severity, number: String, word: String) {
        let payload = formatter.payload(Fixtures.with(Fixtures.minimal) { $0.severity = level })
        #expect(payload == "CEF:0|Microsoft Defender for IoT|sensor-2|1.2.0|Microsoft Defender for IoT Alert|Sensor Traffic Stopped|\(number)|severity=\(word) UUID=a1")
        // And a SIEM maps the number back to the same level (docs/reference.md §4).
        #expect(Severity(numeric: level.cefSeverity) == level)
    }

    @Test(
        "engine names become Defender's type= words",
        arguments: [
            ("policy", "Policy Violation"), ("Protocol", "Protocol Violation"), ("malware", "Malware"),
            ("ANOMALY", "Anomaly"), ("operational", "Operational"), ("Policy Violation", "Policy Violation"),
            ("custom-engine", "custom-engine"),
        ]
    )
    func engineType(engine: String, type: String) {
        let payload = formatter.payload(Fixtures.with(Fixtures.minimal) { $0.engine = engine })
        #expect(payload.hasSuffix("|severity=Warning type=\(type) UUID=a1"))
    }

    @Test("pipes and backslashes are escaped in header fields, line breaks become spaces")
    func headerEscaping() {
        let alert = Fixtures.with(Fixtures.minimal) {
            $0.title = #"Write to C:\PLC|Block 7"# + "\r\nretry"
            $0.sensor = "line|2"
        }
        let payload = Fixtures.formatter(.cef, version: #"1.2\beta|x"#).payload(alert)
        #expect(
            payload == #"CEF:0|Microsoft Defender for IoT|line\|2|1.2\\beta\|x|Microsoft Defender for IoT Alert|Write to C:\\PLC\|Block 7  retry|1|severity=Warning UUID=a1"#
        )
        let (fields, extensions) = splitHeader(payload, fields: 7)
        #expect(fields == ["CEF:0", "Microsoft Defender for IoT", "line|2", #"1.2\beta|x"#, "Microsoft Defender for IoT Alert", #"Write to C:\PLC|Block 7  retry"#, "1"])
        #expect(extensions == "severity=Warning UUID=a1")
    }

    @Test("backslash, equals and line breaks are escaped in extension values; pipes are not")
    func extensionEscaping() {
        let alert = Fixtures.with(Fixtures.minimal) {
            $0.message = #"value a=b in C:\temp"# + "\nline two\rend | pipe\ttab"
        }
        let payload = formatter.payload(alert)
        #expect(payload.hasSuffix(#"|1|msg=value a\=b in C:\\temp\nline two\rend | pipe"# + "\ttab severity=Warning UUID=a1"))
        #expect(!payload.contains("\n") && !payload.contains("\r"))
    }

    /// The CEF specification's own escaping examples ("Implementing ArcSight CEF", character
    /// encoding): `detected a \| in message` and `detected a \\ in packet` in the header;
    /// `act=blocked a \= dst=1.1.1.1` and `detected a \\ in packet` in an extension value;
    /// a multi-line value encoded with `\n` / `\r`.
    @Test("the CEF specification's escaping examples, written as the specification writes them")
    func specificationExamples() {
        let pipe = formatter.payload(Fixtures.with(Fixtures.minimal) { $0.title = "detected a | in message" })
        #expect(pipe.contains(#"|Microsoft Defender for IoT Alert|detected a \| in message|1|"#))
        let backslash = formatter.payload(Fixtures.with(Fixtures.minimal) { $0.title = #"detected a \ in packet"#; $0.message = #"detected a \ in packet"# })
        #expect(backslash.contains(#"|detected a \\ in packet|1|msg=detected a \\ in packet "#))
        let equals = formatter.payload(Fixtures.with(Fixtures.minimal) { $0.message = "blocked a = dst=1.1.1.1" })
        #expect(equals.contains(#"msg=blocked a \= dst\=1.1.1.1 "#))
        let lines = formatter.payload(Fixtures.with(Fixtures.minimal) { $0.message = "first line\nsecond line\r\nthird" })
        #expect(lines.contains(#"msg=first line\nsecond line\r\nthird "#))
    }

    @Test("a SIEM's CEF parser gets every value back intact")
    func roundTrip() {
        let awkward = Fixtures.with(Fixtures.full) {
            $0.message = #"key=value \ trailing\\ msg=fake cat=x"# + "\r\n\t= end"
            $0.protocolName = "=starts with equals"
            $0.category = #"ends with backslash\"#
            $0.id = "id with spaces and = and ünïcödé 🚨"
        }
        let payload = formatter.payload(awkward)
        let (_, extensions) = splitHeader(payload, fields: 7)
        let pairs = parseCEFExtension(extensions)
        #expect(pairs.map(\.key) == ["msg", "protocol", "severity", "type", "UUID", "start", "src_ip", "src_mac", "dst_ip", "dst_mac", "cat"])
        #expect(pairs.map(\.value) == [
            awkward.message!, awkward.protocolName!, "Major", "Policy Violation", awkward.id, "Mar 01 2024 08:15:29.125 UTC",
            "10.1.0.5", "00:1a:2b:3c:4d:5e", "10.1.0.20", "00:1a:2b:3c:4d:5f", awkward.category!,
        ])
    }
}
