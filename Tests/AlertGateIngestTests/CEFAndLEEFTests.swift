import AlertGateCore
import AlertGateIngest
import Foundation
import NIOCore
import Testing

@Suite("CEF payloads")
struct CEFParserTests {
    @Test("Defender for IoT's Syslog CEF: every field where a SIEM expects it")
    func defenderAlert() {
        let result = Fixtures.parse(
            "CEF:0|Microsoft Defender for IoT|sensor-1|22.3.5|Microsoft Defender for IoT Alert|Unauthorized PLC Programming|8|"
                + "msg=The source device 10.1.0.5 programmed PLC 10.1.0.20 protocol=S7 severity=Major type=Policy Violation "
                + "UUID=5f1c2e9a-0b7d-4c1e-9a53-2f8e4d6b7a10 start=Mar 01 2024 08:15:29.125 UTC src_ip=10.1.0.5 "
                + "src_mac=00:1a:2b:3c:4d:5e dst_ip=10.1.0.20 dst_mac=00:1a:2b:3c:4d:5f cat=Programming"
        )
        #expect(result.recognized == [.cef])
        let alert = result.alert
        #expect(alert.title == "Unauthorized PLC Programming")
        #expect(alert.message == "The source device 10.1.0.5 programmed PLC 10.1.0.20")
        #expect(alert.protocolName == "S7")
        #expect(alert.severity == .major)
        #expect(alert.engine == "policy")
        #expect(alert.id == "5f1c2e9a-0b7d-4c1e-9a53-2f8e4d6b7a10")
        #expect(alert.time == Fixtures.date("2024-03-01T08:15:29.125Z"))
        #expect(alert.sourceIP == "10.1.0.5")
        #expect(alert.sourceMAC == "00:1a:2b:3c:4d:5e")
        #expect(alert.destinationIP == "10.1.0.20")
        #expect(alert.destinationMAC == "00:1a:2b:3c:4d:5f")
        #expect(alert.category == "Programming")
        #expect(alert.sensor == "sensor-1")
        #expect(alert.raw == nil)
    }

    @Test("vendor extension pairs no field takes are kept as sent, and a CEF partner gets them back")
    func unmappedExtensionsAreKept() {
        let result = Fixtures.parse(
            "<134>1 2024-03-01T08:15:30Z sensor-1 ot - - - CEF:0|Acme|OT Sensor|4.2|1001|Port scan|6|"
                + "src=10.0.0.1 spt=502 msg=Scan of the cell seq=42 cs1Label=zone cs1=cell 7\\=east"
        )
        #expect(result.recognized == [.rfc5424, .cef])
        #expect(result.alert.message == "Scan of the cell")
        #expect(result.alert.sourceIP == "10.0.0.1")
        #expect(result.alert.extensions == "spt=502 seq=42 cs1Label=zone cs1=cell 7\\=east")

        var buffer = ByteBuffer()
        AlertFormatter(format: .cef, hostname: "gw", productVersion: "1").writePayload(result.alert, into: &buffer)
        let forwarded = String(buffer: buffer)
        #expect(forwarded.hasSuffix(" spt=502 seq=42 cs1Label=zone cs1=cell 7\\=east"), "\(forwarded)")
        #expect(Fixtures.parse(forwarded).alert.extensions == result.alert.extensions)
    }

    @Test(
        "severity: a word in severity= wins, then the header (number or CEF word), then a number in severity=",
        arguments: [
            ("1", "severity=Critical", Severity.critical),
            ("10", "severity=minor", .minor),
            ("1", "", .warning), ("4", "", .minor), ("8", "", .major), ("10", "", .critical),
            ("0", "", .warning), ("3", "", .warning), ("6", "", .minor), ("7", "", .major), ("9", "", .critical),
            ("High", "", .major), ("Very-High", "", .critical), ("Low", "", .warning), ("Medium", "", .minor),
            ("7", "severity=9", .major),
            ("Unknown", "severity=9", .critical),
        ]
    )
    func severity(header: String, fieldText: String, expected: Severity) {
        let result = Fixtures.parse("<13>CEF:0|V|P|1|S|Title|\(header)|msg=m \(fieldText)")
        #expect(result.recognized == [.cef])
        #expect(result.alert.severity == expected)
    }

    @Test("no usable severity anywhere: the PRI's")
    func severityFromPriority() {
        #expect(Fixtures.parse("<11>CEF:0|V|P|1|S|Title|Unknown|msg=m").alert.severity == .major)
    }

    @Test("escapes: \\| and \\\\ in the header; \\= \\\\ \\| \\n \\r in extension values")
    func escapes() {
        let result = Fixtures.parse(
            #"CEF:0|V|sensor \| 2|1|S|Title \| with pipe \\ and = sign|5|msg=a\=b c\\d\nnext \| pipe\r src=10.0.0.1"#
        )
        #expect(result.alert.title == #"Title | with pipe \ and = sign"#)
        #expect(result.alert.sensor == "sensor | 2")
        #expect(result.alert.message == "a=b c\\d\nnext | pipe\r")
        #expect(result.alert.sourceIP == "10.0.0.1")
    }

    @Test("a backslash that starts no CEF escape stays (a Windows path keeps its \\t)")
    func unknownEscape() {
        #expect(Fixtures.parse(#"CEF:0|V|P|1|S|T|5|msg=C:\temp\data file src=10.0.0.1"#).alert.message == #"C:\temp\data file"#)
    }

    @Test("values hold spaces; an = that does not end a key word stays in the value")
    func valuesWithSpaces() {
        let result = Fixtures.parse("CEF:0|V|P|1|S|T|5|msg=mode=run, ratio 3/4=0.75 on   coil 7 protocol=modbus cat=Write")
        #expect(result.alert.message == "mode=run, ratio 3/4=0.75 on   coil 7")
        #expect(result.alert.protocolName == "modbus")
        #expect(result.alert.category == "Write")
    }

    @Test("the CEF dictionary's src, dst, smac, dmac stand in for Defender's names")
    func standardKeys() {
        let alert = Fixtures.parse("CEF:0|V|P|1|S|T|5|src=10.0.0.1 dst=10.0.0.2 smac=aa:bb:cc:dd:ee:01 dmac=aa:bb:cc:dd:ee:02").alert
        #expect(alert.sourceIP == "10.0.0.1")
        #expect(alert.destinationIP == "10.0.0.2")
        #expect(alert.sourceMAC == "aa:bb:cc:dd:ee:01")
        #expect(alert.destinationMAC == "aa:bb:cc:dd:ee:02")
    }

    @Test(
        "Defender's type= words become the engine names of the config; other words stay",
        arguments: [
            ("Policy Violation", "policy"), ("Protocol Violation", "protocol"), ("Anomaly", "anomaly"), ("Malware", "malware"),
            ("Operational", "operational"), ("POLICY VIOLATION", "policy"), ("Custom Engine", "Custom Engine"),
        ]
    )
    func engine(word: String, expected: String) {
        #expect(Fixtures.parse("CEF:0|V|P|1|S|T|5|type=\(word) cat=x").alert.engine == expected)
    }

    @Test("a numeric type= (CEF's base/aggregated event type) is no engine")
    func numericType() {
        #expect(Fixtures.parse("CEF:0|V|P|1|S|T|5|type=0").alert.engine == nil)
    }

    @Test(
        "start= in the CEF timestamp forms",
        arguments: [
            ("Mar 01 2024 08:15:29.125 UTC", "2024-03-01T08:15:29.125Z"),
            ("Mar 01 2024 08:15:29", "2024-03-01T08:15:29Z"),
            ("Mar 01 2024 09:15:29 +01:00", "2024-03-01T08:15:29Z"),
            ("Feb 29 08:15:29.5 GMT", "2024-02-29T08:15:29.500Z"),
            ("1709280929125", "2024-03-01T08:15:29.125Z"),
            ("2024-03-01T08:15:29Z", "2024-03-01T08:15:29Z"),
        ]
    )
    func startTime(text: String, expected: String) throws {
        let time = try #require(Fixtures.parse("CEF:0|V|P|1|S|T|5|start=\(text) cat=x").alert.time)
        #expect(abs(time.timeIntervalSince(Fixtures.date(expected))) < 0.000_5)
    }

    @Test("a start= in a zone that needs a time-zone database is flagged, not guessed")
    func namedZone() {
        let result = Fixtures.parse("CEF:0|V|P|1|S|T|5|start=Mar 01 2024 09:15:29 CET")
        #expect(result.alert.time == nil)
        #expect(result.problems == [.unreadableTime])
    }

    @Test("a CEF header cut short is no CEF: the text is forwarded raw")
    func truncatedHeader() {
        let result = Fixtures.parse("CEF:0|Vendor|Product|1.0|sig")
        #expect(result.recognized == [.raw])
        #expect(result.alert.raw == "CEF:0|Vendor|Product|1.0|sig")
    }
}

@Suite("LEEF payloads")
struct LEEFParserTests {
    @Test("Defender for IoT's Syslog LEEF (1.0, TAB-separated)")
    func defenderLEEF() {
        let result = Fixtures.parse(
            "LEEF:1.0|Microsoft Defender for IoT|sensor-1|22.3.5|Microsoft Defender for IoT Alert|"
                + "title=Unauthorized PLC Programming\tmsg=PLC 10.1.0.20 programmed\tprotocol=S7\tseverity=Major\t"
                + "type=Protocol Violation\tstart=Mar 01 2024 08:15:29.125 UTC\tsrc_ip=10.1.0.5\tdst_ip=10.1.0.20\tcat=Programming"
        )
        #expect(result.recognized == [.leef])
        let alert = result.alert
        #expect(alert.title == "Unauthorized PLC Programming")
        #expect(alert.message == "PLC 10.1.0.20 programmed")
        #expect(alert.protocolName == "S7")
        #expect(alert.severity == .major)
        #expect(alert.engine == "protocol")
        #expect(alert.time == Fixtures.date("2024-03-01T08:15:29.125Z"))
        #expect(alert.sourceIP == "10.1.0.5")
        #expect(alert.destinationIP == "10.1.0.20")
        #expect(alert.category == "Programming")
        #expect(alert.sensor == "sensor-1")
    }

    @Test("LEEF 2.0 with its own delimiter, as a character or a hex code; QRadar's keys")
    func leef2() {
        for delimiter in ["^", "x5E", "0x5e"] {
            let alert = Fixtures.parse(
                "LEEF:2.0|Lancope|StealthWatch|1.0|41|\(delimiter)|src=10.0.1.8^dst=10.0.0.5^sev=9^srcMAC=aa:bb:cc:00:11:22^devTime=Mar 01 2024 08:15:29"
            ).alert
            #expect(alert.sourceIP == "10.0.1.8", "delimiter \(delimiter)")
            #expect(alert.destinationIP == "10.0.0.5")
            #expect(alert.severity == .critical)
            #expect(alert.sourceMAC == "aa:bb:cc:00:11:22")
            #expect(alert.time == Fixtures.date("2024-03-01T08:15:29Z"))
            #expect(alert.title == "41", "no title= : the EventID")
        }
    }

    @Test("LEEF 2.0 without a delimiter field is TAB-separated")
    func leef2WithoutDelimiter() {
        let alert = Fixtures.parse("LEEF:2.0|V|P|1|Port Scan|src=10.0.0.9\tsev=4").alert
        #expect(alert.title == "Port Scan")
        #expect(alert.sourceIP == "10.0.0.9")
        #expect(alert.severity == .minor)
    }

    @Test("attribute values are taken as they are (LEEF defines no escapes); a severity word beats sev=")
    func attributeValuesVerbatim() {
        let alert = Fixtures.parse(#"LEEF:1.0|V|P|1|E|title=path C:\Users\ot a=b\=c\d\#tmsg=line1\nline2\#tsev=10\#tseverity=minor"#).alert
        #expect(alert.title == #"path C:\Users\ot a=b\=c\d"#)
        #expect(alert.message == #"line1\nline2"#)
        #expect(alert.severity == .minor)
    }
}
