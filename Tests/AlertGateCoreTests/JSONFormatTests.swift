import AlertGateCore
import Foundation
import Testing

@Suite("JSON payload")
struct JSONFormatTests {
    let formatter = Fixtures.formatter(.json)

    @Test("an alert with every field is one line, keys in the documented order")
    func fullAlert() {
        let alert = Fixtures.with(Fixtures.full) { $0.raw = "CEF:0|original" }
        #expect(
            formatter.payload(alert)
                == #"{"id":"5f1c2e9a-0b7d-4c1e-9a53-2f8e4d6b7a10","time":"2024-03-01T08:15:29.125Z","received_at":"2024-03-01T08:15:30.250Z","#
                + #""severity":"major","title":"Unauthorized PLC Programming","#
                + #""message":"The source device 10.1.0.5 programmed PLC 10.1.0.20 outside a maintenance window","#
                + #""protocol":"s7comm","engine":"policy","sensor":"sensor-1","src_ip":"10.1.0.5","dst_ip":"10.1.0.20","#
                + #""src_mac":"00:1a:2b:3c:4d:5e","dst_mac":"00:1a:2b:3c:4d:5f","category":"Programming","#
                + #""appliance":"plant-a-sensor","raw":"CEF:0|original"}"#
        )
    }

    @Test("absent optionals are left out; time is null")
    func minimalAlert() {
        #expect(
            formatter.payload(Fixtures.minimal)
                == #"{"id":"a1","time":null,"received_at":"2024-03-01T08:15:30.250Z","severity":"warning","title":"Sensor Traffic Stopped","appliance":"sensor-2"}"#
        )
    }

    @Test("severity is the lowercase word", arguments: Severity.allCases)
    func severity(level: Severity) {
        let payload = formatter.payload(Fixtures.with(Fixtures.minimal) { $0.severity = level })
        #expect(payload.contains(#","severity":"\#(level.rawValue)","#))
    }

    @Test("quotes, backslashes and control characters are escaped")
    func escaping() {
        let alert = Fixtures.with(Fixtures.minimal) {
            $0.title = "say \"hi\" \\ now"
            $0.message = "line1\nline2\r\ttab \u{01}\u{1F}\u{08}\u{0C}\u{7F} ü 🚨 / </script>"
        }
        let payload = formatter.payload(alert)
        #expect(payload.contains(#""title":"say \"hi\" \\ now""#))
        #expect(payload.contains(#""message":"line1\nline2\r\ttab \u0001\u001f\u0008\u000c"# + "\u{7F} ü 🚨 / </script>\""))
        #expect(!payload.contains("\n") && !payload.contains("\r") && !payload.contains("\t"))
    }

    @Test("JSONSerialization reads back every value")
    func parsesBack() throws {
        let alert = Fixtures.with(Fixtures.full) {
            $0.title = "quote \" backslash \\ slash / nul \u{0} bell \u{7}"
            $0.message = "multi\nline\r\n\ttabbed ünïcödé 🚨"
            $0.raw = "raw \u{1B}[31m colour"
        }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(formatter.payload(alert).utf8)) as? [String: Any])
        let expected: [String: String] = [
            "id": alert.id, "time": "2024-03-01T08:15:29.125Z", "received_at": "2024-03-01T08:15:30.250Z",
            "severity": "major", "title": alert.title, "message": alert.message!, "protocol": "s7comm", "engine": "policy",
            "sensor": "sensor-1", "src_ip": "10.1.0.5", "dst_ip": "10.1.0.20", "src_mac": "00:1a:2b:3c:4d:5e",
            "dst_mac": "00:1a:2b:3c:4d:5f", "category": "Programming", "appliance": "plant-a-sensor", "raw": alert.raw!,
        ]
        #expect(object.count == expected.count)
        for (key, value) in expected {
            #expect(object[key] as? String == value, "key \(key)")
        }
    }

    @Test("a minimal alert parses back with time null and nothing else")
    func minimalParsesBack() throws {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(formatter.payload(Fixtures.minimal).utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["id", "time", "received_at", "severity", "title", "appliance"])
        #expect(object["time"] is NSNull)
        #expect(object["title"] as? String == "Sensor Traffic Stopped")
    }
}
