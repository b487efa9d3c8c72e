import AlertGateCore
import Testing

@Suite("LEEF payload (Defender for IoT layout)")
struct LEEFFormatTests {
    let formatter = Fixtures.formatter(.leef)

    @Test("an alert with every field renders as Defender's Syslog LEEF")
    func fullAlert() {
        #expect(
            formatter.payload(Fixtures.full)
                == "LEEF:1.0|Microsoft Defender for IoT|sensor-1|1.2.0|Microsoft Defender for IoT Alert|"
                + "title=Unauthorized PLC Programming\tmsg=The source device 10.1.0.5 programmed PLC 10.1.0.20 outside a maintenance window"
                + "\tprotocol=s7comm\tseverity=Major\ttype=Policy Violation\tstart=Mar 01 2024 08:15:29.125 UTC"
                + "\tsrc_ip=10.1.0.5\tdst_ip=10.1.0.20\tcat=Programming"
        )
    }

    @Test("absent fields are left out and the appliance stands in for the sensor")
    func minimalAlert() {
        #expect(
            formatter.payload(Fixtures.minimal)
                == "LEEF:1.0|Microsoft Defender for IoT|sensor-2|1.2.0|Microsoft Defender for IoT Alert|title=Sensor Traffic Stopped\tseverity=Warning"
        )
    }

    @Test("an unparsed message travels in msg=")
    func rawText() {
        #expect(
            formatter.payload(Fixtures.unparsed)
                == "LEEF:1.0|Microsoft Defender for IoT|plc-gw|1.2.0|Microsoft Defender for IoT Alert|msg=<13>Mar  1 08:15:30 plc-gw kernel: eth1 link down\tseverity=Warning"
        )
    }

    @Test(
        "severity= carries Defender's word",
        arguments: [(Severity.warning, "Warning"), (.minor, "Minor"), (.major, "Major"), (.critical, "Critical")]
    )
    func severity(level: Severity, word: String) {
        let payload = formatter.payload(Fixtures.with(Fixtures.minimal) { $0.severity = level })
        #expect(payload.hasSuffix("|title=Sensor Traffic Stopped\tseverity=\(word)"))
    }

    @Test("values are written as the LEEF specification defines them: no escapes, the delimiter and line breaks replaced by a space; pipe escaped in the header")
    func escaping() {
        let alert = Fixtures.with(Fixtures.minimal) {
            $0.title = "a\tb=c"
            $0.message = #"C:\ot"# + "\nnext\rend|pipe"
            $0.sensor = #"cell|3\east"#
        }
        let payload = formatter.payload(alert)
        #expect(
            payload == #"LEEF:1.0|Microsoft Defender for IoT|cell\|3\\east|1.2.0|Microsoft Defender for IoT Alert|"#
                + "title=a b=c\t" + #"msg=C:\ot next end|pipe"# + "\tseverity=Warning"
        )
        #expect(!payload.contains("\n") && !payload.contains("\r"))
        // The only raw tabs are the two attribute delimiters.
        #expect(payload.filter { $0 == "\t" }.count == 2)
    }

    @Test("the LEEF 1.0 specification's own example reads back as it was written")
    func specificationExample() {
        // LEEF 1.0 (IBM, "Log Event Extended Format"): attributes split on TAB, each at its
        // first `=`; a value may hold `=`, and a backslash is an ordinary character.
        let alert = Fixtures.with(Fixtures.minimal) {
            $0.title = "Login failed"
            $0.message = #"user=admin path=C:\Users\admin url=https://plc.local/?a=1&b=2"#
        }
        let (_, attributes) = splitHeader(formatter.payload(alert), fields: 5)
        let pairs = parseLEEFAttributes(attributes)
        #expect(pairs.first { $0.key == "msg" }?.value == alert.message)
        #expect(pairs.first { $0.key == "title" }?.value == "Login failed")
    }

    @Test("a SIEM's LEEF parser gets every value back intact")
    func roundTrip() {
        let awkward = Fixtures.with(Fixtures.full) {
            $0.title = "Title | with = and \\ and\ttab"
            $0.message = "multi\nline\r\nmessage\t= \\"
            $0.sensor = "sensor|with\\specials"
            $0.category = "ünïcödé 🚨"
        }
        let payload = formatter.payload(awkward)
        let (header, attributes) = splitHeader(payload, fields: 5)
        #expect(header == ["LEEF:1.0", "Microsoft Defender for IoT", "sensor|with\\specials", "1.2.0", "Microsoft Defender for IoT Alert"])
        let pairs = parseLEEFAttributes(attributes)
        #expect(pairs.map(\.key) == ["title", "msg", "protocol", "severity", "type", "start", "src_ip", "dst_ip", "cat"])
        // Tabs and line breaks, which a LEEF value cannot hold, arrive as spaces; the rest as it was.
        #expect(pairs.map(\.value) == [
            "Title | with = and \\ and tab", "multi line  message = \\", "s7comm", "Major", "Policy Violation", "Mar 01 2024 08:15:29.125 UTC",
            "10.1.0.5", "10.1.0.20", awkward.category!,
        ])
    }
}
