/// Text from peers (certificate CNs, addresses, messages, HTTP paths, parse errors) on its
/// way into a log: every control character is written as an escape, so that a peer can
/// never end the line it is logged in and start one of its own (docs/reference.md §11).
///
/// The text log handler applies it to each message and metadata value; any other sink
/// that writes peer text line by line applies it itself.
public enum LogEscaping {
    /// `text` with C0 controls and DEL as `\n`, `\r`, `\t` or `\u{1B}`, and C1 controls and
    /// the Unicode line and paragraph separators as `\u{85}`, `\u{2028}`: what a terminal
    /// or a log viewer could take for a line break or a cursor movement.
    public static func escaped(_ text: String) -> String {
        guard text.utf8.contains(where: mayNeedEscaping) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where isControl(scalar):
                result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Whether `scalar` is escaped.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029: true
        default: false
        }
    }

    /// A byte that starts or is one of the characters escaped (C1 controls are encoded
    /// C2 80…C2 9F, the separators E2 80 A8/A9): the fast scan of text with none.
    @inline(__always)
    private static func mayNeedEscaping(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x7F || byte == 0xC2 || byte == 0xE2
    }
}
