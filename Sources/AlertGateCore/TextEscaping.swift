/// How a piece of text is escaped where a partner format embeds it. Every byte that any
/// scheme escapes is ASCII, so the text is scanned as UTF-8 bytes: a multi-byte sequence
/// (all its bytes ≥ 0x80) passes through untouched.
enum TextEscaping {
    /// CEF header fields: `\` → `\\`, `|` → `\|`. The CEF spec allows no line break in
    /// the header (only extension values may encode one), so CR and LF become a space.
    case cefHeader
    /// CEF extension values: `\` → `\\`, `=` → `\=`, LF → `\n`, CR → `\r`.
    case cefExtension
    /// LEEF 1.0 header fields: as CEF's (`\`, `|` escaped; CR, LF become a space).
    case leefHeader
    /// LEEF 1.0/2.0 attribute values: the LEEF specifications define no escape inside a
    /// value (a receiver splits the attributes on the delimiter, each at its first `=`, and
    /// takes `\` and `=` as they are), so nothing is escaped; the attribute delimiter TAB,
    /// which a value cannot hold, and the line breaks, which would end a syslog line, are
    /// each replaced by a space (docs/partners.md).
    case leefAttribute
    /// JSON string contents (RFC 8259 §7): `"` and `\` escaped, LF/CR/TAB as `\n` `\r`
    /// `\t`, every other control character as `\u00XX`.
    case json
    /// RFC 5424 SD-PARAM values (§6.3.3): `"`, `\` and `]` preceded by a backslash.
    case structuredDataParameter

    /// The bytes this scheme escapes, as a bit set of the 128 ASCII values (bit n of
    /// `.0` is byte n, bit n of `.1` byte 64 + n): one test a byte in the scanning loop.
    @inline(__always)
    var specialBytes: (UInt64, UInt64) {
        let backslash: UInt64 = 1 << (0x5C - 64)
        let lineBreaks: UInt64 = 1 << 0x0A | 1 << 0x0D
        switch self {
        case .cefHeader, .leefHeader: return (lineBreaks, backslash | 1 << (0x7C - 64))
        case .cefExtension: return (lineBreaks | 1 << 0x3D, backslash)
        case .leefAttribute: return (lineBreaks | 1 << 0x09, 0)
        case .json: return (0xFFFF_FFFF | 1 << 0x22, backslash)
        case .structuredDataParameter: return (1 << 0x22, backslash | 1 << (0x5D - 64))
        }
    }

    /// The printable bytes this scheme escapes besides `\` and control characters: at most
    /// two, repeated when fewer (LEEF has none: its are all control characters).
    @inline(__always)
    var printableSpecials: (UInt8, UInt8) {
        switch self {
        case .cefHeader, .leefHeader: return (UInt8(ascii: "|"), UInt8(ascii: "|"))
        case .cefExtension: return (UInt8(ascii: "="), UInt8(ascii: "="))
        case .leefAttribute: return (UInt8(ascii: "\t"), UInt8(ascii: "\t"))
        case .json: return (UInt8(ascii: "\""), UInt8(ascii: "\""))
        case .structuredDataParameter: return (UInt8(ascii: "\""), UInt8(ascii: "]"))
        }
    }

    /// Whether `byte` is in `special` (`specialBytes`).
    @inline(__always)
    static func isSpecial(_ byte: UInt8, in special: (UInt64, UInt64)) -> Bool {
        if byte < 64 { return special.0 & (1 << UInt64(byte)) != 0 }
        if byte < 128 { return special.1 & (1 << UInt64(byte &- 64)) != 0 }
        return false
    }

    /// The escape sequence for `byte`, or nil when it goes out as it is.
    @inline(__always)
    func replacement(for byte: UInt8) -> StaticString? {
        switch self {
        case .cefHeader, .leefHeader:
            switch byte {
            case UInt8(ascii: "\\"): return "\\\\"
            case UInt8(ascii: "|"): return "\\|"
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"): return " "
            default: return nil
            }
        case .cefExtension:
            switch byte {
            case UInt8(ascii: "\\"): return "\\\\"
            case UInt8(ascii: "="): return "\\="
            case UInt8(ascii: "\n"): return "\\n"
            case UInt8(ascii: "\r"): return "\\r"
            default: return nil
            }
        case .leefAttribute:
            switch byte {
            case UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): return " "
            default: return nil
            }
        case .json:
            switch byte {
            case UInt8(ascii: "\""): return "\\\""
            case UInt8(ascii: "\\"): return "\\\\"
            case UInt8(ascii: "\n"): return "\\n"
            case UInt8(ascii: "\r"): return "\\r"
            case UInt8(ascii: "\t"): return "\\t"
            case 0x00..<0x20: return Self.jsonControlEscapes[Int(byte)]
            default: return nil
            }
        case .structuredDataParameter:
            switch byte {
            case UInt8(ascii: "\""): return "\\\""
            case UInt8(ascii: "\\"): return "\\\\"
            case UInt8(ascii: "]"): return "\\]"
            default: return nil
            }
        }
    }

    /// `\u0000` … `\u001f`, indexed by the control character.
    private static let jsonControlEscapes: [StaticString] = [
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
        "\\u0008", "\\u0009", "\\u000a", "\\u000b", "\\u000c", "\\u000d", "\\u000e", "\\u000f",
        "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
        "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
    ]
}
