@testable import AlertGateCore
import NIOCore
import Testing

/// The escaper scans eight bytes at a time; these tests hold it to a naive, per-character
/// reference on every scheme, with specials at every offset of a word and next to
/// multi-byte characters.
@Suite("Escaping against a reference")
struct EscapingTests {
    static let schemes: [TextEscaping] = [.cefHeader, .cefExtension, .leefHeader, .leefAttribute, .json, .structuredDataParameter]

    static func reference(_ text: String, _ scheme: TextEscaping) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            let replacement: String? =
                switch (scheme, scalar) {
                case (.cefHeader, "\\"), (.leefHeader, "\\"), (.cefExtension, "\\"), (.json, "\\"),
                    (.structuredDataParameter, "\\"):
                    "\\\\"
                case (.cefHeader, "|"), (.leefHeader, "|"): "\\|"
                case (.cefHeader, "\n"), (.cefHeader, "\r"), (.leefHeader, "\n"), (.leefHeader, "\r"): " "
                case (.cefExtension, "="): "\\="
                case (.cefExtension, "\n"), (.json, "\n"): "\\n"
                case (.cefExtension, "\r"), (.json, "\r"): "\\r"
                case (.json, "\t"): "\\t"
                // LEEF defines no escapes: what a value cannot hold becomes a space.
                case (.leefAttribute, "\t"), (.leefAttribute, "\n"), (.leefAttribute, "\r"): " "
                case (.json, "\""), (.structuredDataParameter, "\""): "\\\""
                case (.structuredDataParameter, "]"): "\\]"
                case (.json, _) where scalar.value < 0x20:
                    "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
                default: nil
                }
            if let replacement {
                result += replacement
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    static func escaped(_ text: String, _ scheme: TextEscaping) -> String {
        var buffer = ByteBufferAllocator().buffer(capacity: 0)
        buffer.writeDirect(reserving: 6 * text.utf8.count) { $0.escaped(text, scheme) }
        return String(buffer: buffer)
    }

    @Test("each special at every offset of a 24-byte string", arguments: schemes)
    func everyOffset(scheme: TextEscaping) {
        let specials: [Character] = ["\\", "|", "=", "\"", "]", "\n", "\r", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "🚨", "a", " "]
        for special in specials {
            for offset in 0..<24 {
                var characters = Array(repeating: Character("x"), count: 24)
                characters[offset] = special
                let text = String(characters)
                #expect(Self.escaped(text, scheme) == Self.reference(text, scheme), "\(scheme) \(special.debugDescription) at \(offset)")
            }
        }
    }

    @Test("random strings of every length up to 70", arguments: schemes)
    func random(scheme: TextEscaping) {
        let alphabet: [Character] = Array("abcXYZ019 .:-_/\\|=\"]\n\r\t\u{0}\u{1}\u{1B}\u{7F}éü€🚨{}[]<>")
        var generator = SplitMix64(seed: 0x5EED)
        for length in 0...70 {
            for _ in 0..<20 {
                let text = String((0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
                #expect(Self.escaped(text, scheme) == Self.reference(text, scheme), "\(scheme) \(text.debugDescription)")
            }
        }
    }

    @Test("the reserved bound holds for fields made only of characters that expand most")
    func worstCaseExpansion() throws {
        for format in AlertFormat.allCases {
            for filler in ["\u{1}", "\\", "\"", "|", "=", "]", "\t"] {
                let field = String(repeating: filler, count: 300)
                let alert = Alert(
                    id: field, receivedAt: Fixtures.receivedAt, time: Fixtures.detectedAt, severity: .critical, title: field,
                    message: field, protocolName: field, engine: field, sensor: field, sourceIP: field, destinationIP: field,
                    sourceMAC: field, destinationMAC: field, category: field, appliance: field, raw: field
                )
                let formatter = AlertFormatter(format: format, hostname: String(repeating: "h", count: 255), productVersion: String(repeating: "|", count: 50))
                let message = formatter.syslogMessage(alert)
                #expect(message.hasPrefix("<10>1 2024-03-01T08:15:29.125Z "))
                #expect(message.hasSuffix(formatter.payload(alert)))
            }
        }
    }
}

/// A small deterministic generator, so that a failure can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
