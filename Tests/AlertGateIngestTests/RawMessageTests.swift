import AlertGateCore
import AlertGateIngest
import Foundation
import NIOCore
import Testing

@Suite("Messages no format parses: forwarded, never dropped")
struct RawMessageTests {
    @Test("plain text becomes an alert: title = the text, raw = the text, severity warning, a new id")
    func plainText() {
        let result = Fixtures.parse("link flap on port 7")
        #expect(result.recognized == [.raw])
        #expect(result.alert.title == "link flap on port 7")
        #expect(result.alert.raw == "link flap on port 7")
        #expect(result.alert.severity == .warning)
        #expect(result.alert.sensor == "10.9.9.9", "the sender's address names the source")
        #expect(result.alert.appliance == "plant-a")
        #expect(Fixtures.isGeneratedID(result.alert.id))
        #expect(Fixtures.parse("link flap on port 7").alert.id != result.alert.id)
    }

    @Test("the title is the first 120 characters (characters, not bytes); raw keeps everything")
    func longText() {
        let text = String(repeating: "é🚀", count: 100)
        let result = Fixtures.parse("<13>Mar  1 08:15:30 host " + text)
        #expect(result.alert.title == String(repeating: "é🚀", count: 60))
        #expect(result.alert.title.count == AlertParser.rawTitleLength)
        #expect(result.alert.raw == "<13>Mar  1 08:15:30 host " + text)
    }

    @Test("bytes that are not UTF-8 are replaced with U+FFFD and flagged")
    func invalidUTF8() {
        var bytes = Array("<13>Mar  1 08:15:30 host pump ".utf8)
        bytes += [0xFF, 0xC0, 0xAF]
        bytes += Array(" stopped".utf8)
        let result = Fixtures.parse(bytes: bytes)
        #expect(result.problems == [.invalidUTF8])
        #expect(result.recognized == [.rfc3164, .raw])
        #expect(result.alert.title == "pump \u{FFFD}\u{FFFD}\u{FFFD} stopped")
        #expect(result.alert.sensor == "host")
    }

    @Test("invalid UTF-8 inside a CEF value: the alert keeps every field, the bad bytes replaced")
    func invalidUTF8InCEF() {
        var bytes = Array("CEF:0|V|sensor-2|1|S|Pump stopped|8|msg=bad ".utf8)
        bytes += [0xED, 0xA0, 0x80]  // an encoded surrogate
        bytes += Array(" here src=10.0.0.1".utf8)
        let result = Fixtures.parse(bytes: bytes)
        #expect(result.problems == [.invalidUTF8])
        #expect(result.recognized == [.cef])
        #expect(result.alert.message?.hasPrefix("bad \u{FFFD}") == true)
        #expect(result.alert.sourceIP == "10.0.0.1")
        #expect(result.alert.severity == .major)
    }

    @Test("well-formed multi-byte text is not flagged")
    func validUTF8() {
        #expect(Fixtures.parse("Druck überschritten: 漏洩 🚨 in Halle 3").problems.isEmpty)
    }

    @Test("whatever the bytes, there is an alert", arguments: [
        [UInt8](), [0], [0x3C], Array("<".utf8), Array("<13>".utf8), Array("<13>1 ".utf8), Array("CEF:".utf8),
        Array("LEEF:2.0|".utf8), Array("{".utf8), Array("<13>Mar".utf8), Array("<13>1 - - - - - [x".utf8),
        Array(#"<13>1 - - - - - [x a="\"#.utf8), Array("CEF:0|a|b|c|d|e|f|\\".utf8), Array("LEEF:2.0|a|b|c|d|\u{00E9}|x=1".utf8),
    ])
    func neverDropped(bytes: [UInt8]) {
        let result = Fixtures.parse(bytes: bytes)
        #expect(!result.alert.id.isEmpty)
        #expect(result.alert.appliance == "plant-a")
    }

    @Test("the same message from a ByteBuffer, an array or a string parses alike")
    func inputForms() {
        let text = "CEF:0|V|P|1|S|Title|4|UUID=x-1 msg=m"
        let parser = AlertParser()
        let fromBuffer = parser.parse(ByteBuffer(string: text), receivedAt: Fixtures.receivedAt, appliance: "a", sourceAddress: nil)
        let fromArray = parser.parse(Array(text.utf8), receivedAt: Fixtures.receivedAt, appliance: "a", sourceAddress: nil)
        let fromString = parser.parse(text, receivedAt: Fixtures.receivedAt, appliance: "a", sourceAddress: nil)
        #expect(fromBuffer == fromArray)
        #expect(fromBuffer == fromString)
    }
}
