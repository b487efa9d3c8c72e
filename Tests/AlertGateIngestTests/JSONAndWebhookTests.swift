import AlertGateCore
import AlertGateIngest
import Foundation
import Testing

@Suite("JSON alerts: in syslog and the HTTPS webhook")
struct JSONAndWebhookTests {
    static let fullObject = """
        {"id":"a-17","time":"2024-03-01T08:15:29.125Z","severity":"critical","title":"Malware Detected",\
        "message":"EICAR on HMI-3","protocol":"smb","engine":"Malware","sensor":"sensor-4","src_ip":"10.2.0.7",\
        "dst_ip":"10.2.0.9","src_mac":"00:11:22:33:44:55","dst_mac":"66:77:88:99:aa:bb","category":"Suspicion of Malicious Activity",\
        "received_at":"2024-03-01T08:15:29.200Z","appliance":"upstream","extra":{"nested":[1,{"deep":null}]}}
        """

    static func expectFull(_ alert: Alert, appliance: String) {
        #expect(alert.id == "a-17")
        #expect(alert.time == Fixtures.date("2024-03-01T08:15:29.125Z"))
        #expect(alert.receivedAt == Fixtures.receivedAt)
        #expect(alert.severity == .critical)
        #expect(alert.title == "Malware Detected")
        #expect(alert.message == "EICAR on HMI-3")
        #expect(alert.protocolName == "smb")
        #expect(alert.engine == "malware")
        #expect(alert.sensor == "sensor-4")
        #expect(alert.sourceIP == "10.2.0.7")
        #expect(alert.destinationIP == "10.2.0.9")
        #expect(alert.sourceMAC == "00:11:22:33:44:55")
        #expect(alert.destinationMAC == "66:77:88:99:aa:bb")
        #expect(alert.category == "Suspicion of Malicious Activity")
        #expect(alert.appliance == appliance)
    }

    @Test("a webhook body of one object: every member of the schema; unknown ones skipped")
    func webhookObject() throws {
        let alerts = try Fixtures.webhook(Self.fullObject).get()
        #expect(alerts.count == 1)
        Self.expectFull(alerts[0], appliance: "hooks")
    }

    @Test("a JSON object as a syslog payload")
    func jsonOverSyslog() {
        let result = Fixtures.parse("<14>1 2024-03-01T08:15:30Z host app - - - " + Self.fullObject)
        #expect(result.recognized == [.rfc5424, .json])
        Self.expectFull(result.alert, appliance: "plant-a")
    }

    @Test("a syslog JSON object without title or severity is no alert object: forwarded raw")
    func jsonWithoutRequiredMembers() {
        let result = Fixtures.parse(#"{"title":"only a title"}"#)
        #expect(result.recognized == [.raw])
        #expect(result.alert.raw == #"{"title":"only a title"}"#)
    }

    @Test("a syslog JSON alert whose time is no timestamp keeps its fields; the time is flagged")
    func jsonWithBadTime() {
        let result = Fixtures.parse(#"{"title":"Port scan","severity":"minor","time":"03/01/2024 08:15"}"#)
        #expect(result.recognized == [.json])
        #expect(result.alert.title == "Port scan")
        #expect(result.alert.time == nil)
        #expect(result.problems == [.unreadableTime])
    }

    @Test("an array: one alert per element, a new id for each that has none")
    func webhookArray() throws {
        let alerts = try Fixtures.webhook(
            #"[ {"title":"a","severity":"minor"}, {"title":"b","severity":8,"id":42}, {"title":"c","severity":"WARNING","time":null,"src_ip":null} ]"#
        ).get()
        #expect(alerts.map(\.title) == ["a", "b", "c"])
        #expect(alerts.map(\.severity) == [.minor, .major, .warning])
        #expect(Fixtures.isGeneratedID(alerts[0].id))
        #expect(alerts[1].id == "42")
        #expect(Fixtures.isGeneratedID(alerts[2].id))
        #expect(alerts[0].id != alerts[2].id)
        #expect(alerts[2].time == nil)
        #expect(alerts[2].sourceIP == nil)
        #expect(try Fixtures.webhook(" [ ] ").get().isEmpty)
    }

    @Test(
        "severity as a word or a number 0–10",
        arguments: [
            ("0", Severity.warning), ("3", .warning), ("4", .minor), ("6", .minor), ("7", .major), ("8", .major), ("9", .critical),
            ("10", .critical), ("8.0", .major), ("1e1", .critical), (#""8""#, .major), (#""Critical""#, .critical),
            (#""major""#, .major), (#""High""#, .major),
        ]
    )
    func severity(json: String, expected: Severity) throws {
        let alerts = try Fixtures.webhook(#"{"title":"t","severity":\#(json)}"#).get()
        #expect(alerts.first?.severity == expected)
    }

    @Test(
        "a refused body names the alert, the member and what was expected",
        arguments: [
            (#"[{"title":"a","severity":"major"},{"title":"b","severity":"minor"},{"title":"c","severity":"minor"},{"title":"d"}]"#,
             #"alert 3: missing "severity""#),
            (#"{"severity":"major"}"#, #"missing "title""#),
            (#"[{"title":"a","severity":true}]"#, #"alert 0: "severity" is a boolean, expected a string or a number"#),
            (#"[{"title":"a","severity":11}]"#, #"alert 0: "severity" is 11, expected warning, minor, major, critical or a number 0–10"#),
            (#"{"title":"a","severity":"urgent"}"#, #""severity" is "urgent", expected warning, minor, major, critical or a number 0–10"#),
            (#"{"title":42,"severity":"major"}"#, #""title" is a number, expected a string"#),
            (#"{"title":null,"severity":"major"}"#, #""title" is null, expected a string"#),
            (#"{"title":"a","severity":"major","src_ip":["x"]}"#, #""src_ip" is an array, expected a string"#),
            (#"{"title":"a","severity":"major","id":{}}"#, #""id" is an object, expected a string or a number"#),
            (#"{"title":"a","severity":"major","time":"yesterday"}"#,
             #""time" is "yesterday", expected an RFC 3339 timestamp such as 2024-03-01T08:15:30Z"#),
            (#"[{"title":"a","severity":"major"} {"title":"b"}]"#, "alert 0: bad JSON at byte 34: expected ',' or ']' after an alert"),
            (#"[{"title":"a","severity":"major"},{"title":"b" "severity":"major"}]"#,
             "alert 1: bad JSON at byte 47: expected ',' or '}' after a member"),
            (#"{"title":"a","severity":"major""#, "bad JSON at byte 31: the text ends early: expected ',' or '}'"),
            (#"{"title":"a\q","severity":"major"}"#, #"bad JSON at byte 12: invalid escape '\q' in a string"#),
            (#"{"title":"a","severity":"major"} x"#, "bad JSON at byte 33: unexpected text after the JSON value"),
            (#""just text""#, "the body is a string: expected a JSON alert object or an array of them"),
            ("[1]", "alert 0: a number, not an alert object"),
            (" \n ", "the body is empty: expected a JSON alert object or an array of them"),
            (#"[{"title":"a","severity":"major"},{"title":"b","severity":"minor","x":{"y":[1,2,{"z":"\u00e9"}]}},{"title":"c"}]"#,
             #"alert 2: missing "severity""#),
        ]
    )
    func refused(body: String, message: String) {
        switch Fixtures.webhook(body) {
        case .success(let alerts): Issue.record("accepted \(alerts.count) alerts")
        case .failure(let error): #expect(error.description == message)
        }
    }

    @Test("nesting deeper than 64 levels is refused, not followed")
    func deepNesting() {
        let body = #"{"title":"a","severity":"major","x":"# + String(repeating: "[", count: 200) + String(repeating: "]", count: 200) + "}"
        guard case .failure(let error) = Fixtures.webhook(body) else {
            Issue.record("accepted")
            return
        }
        #expect(error.description.hasSuffix("nested deeper than 64 levels"))
    }

    @Test("JSON string escapes, \\u with surrogate pairs; a lone surrogate becomes U+FFFD")
    func stringEscapes() throws {
        let alerts = try Fixtures.webhook(
            #"{"title":"caf\u00e9 \"S7\" \\ \/ \ud83d\ude80\ttab","severity":"minor","message":"lone \ud800 end","engine":"Anomal\u0079"}"#
        ).get()
        #expect(alerts[0].title == "café \"S7\" \\ / 🚀\ttab")
        #expect(alerts[0].message == "lone \u{FFFD} end")
        #expect(alerts[0].engine == "anomaly", "escaped Defender words are recognised too")
    }

    @Test("a body that is not UTF-8 is repaired, not refused")
    func invalidUTF8Body() throws {
        var body = Array(#"{"title":"bad "#.utf8)
        body += [0xC3, 0x28]
        body += Array(#"","severity":"minor"}"#.utf8)
        let alerts = try AlertParser().parseWebhookBody(body, receivedAt: Fixtures.receivedAt, appliance: "hooks").get()
        #expect(alerts[0].title == "bad \u{FFFD}(")
    }
}
