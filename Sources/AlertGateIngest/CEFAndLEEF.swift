import AlertGateCore
import Foundation

/// ArcSight CEF and IBM QRadar LEEF payloads, as Defender for IoT forwards them (and
/// alertgate's `AlertFormatter` writes them), and as other appliances do.
///
/// Keys are read as Defender writes them and as the CEF and LEEF dictionaries name them:
///
/// | alert field | CEF | LEEF |
/// |---|---|---|
/// | title | header Name | `title`, else header EventID |
/// | message | `msg` | `msg` |
/// | protocolName | `protocol` | `protocol` |
/// | severity | `severity` word, else header Severity, else `severity` number | `severity` word, else `severity`/`sev` number |
/// | engine | `type` (Defender's words turned back; a number, CEF's base/aggregated type, ignored) | `type` |
/// | id | `UUID` | `UUID` |
/// | time | `start` | `start`, `devTime` |
/// | sourceIP / destinationIP | `src_ip`, `src` / `dst_ip`, `dst` | the same |
/// | sourceMAC / destinationMAC | `src_mac`, `smac` / `dst_mac`, `dmac` | those and `srcMAC` / `dstMAC` |
/// | category | `cat` | `cat` |
/// | sensor | header Device Product | header Product |
enum PayloadKey {
    case title, message, protocolName, severity, numericSeverity, engine, id, time
    case sourceIP, destinationIP, sourceMAC, destinationMAC, category

    /// A key of a CEF extension (keys are case-sensitive).
    static func cef(_ bytes: Bytes, _ key: Range<Int>) -> PayloadKey? {
        switch key.count {
        case 3:
            if bytes.equals(key, "msg") { return .message }
            if bytes.equals(key, "src") { return .sourceIP }
            if bytes.equals(key, "dst") { return .destinationIP }
            if bytes.equals(key, "cat") { return .category }
        case 4:
            if bytes.equals(key, "UUID") { return .id }
            if bytes.equals(key, "type") { return .engine }
            if bytes.equals(key, "smac") { return .sourceMAC }
            if bytes.equals(key, "dmac") { return .destinationMAC }
        case 5:
            if bytes.equals(key, "start") { return .time }
        case 6:
            if bytes.equals(key, "src_ip") { return .sourceIP }
            if bytes.equals(key, "dst_ip") { return .destinationIP }
        case 7:
            if bytes.equals(key, "src_mac") { return .sourceMAC }
            if bytes.equals(key, "dst_mac") { return .destinationMAC }
        case 8:
            if bytes.equals(key, "protocol") { return .protocolName }
            if bytes.equals(key, "severity") { return .severity }
        default:
            break
        }
        return nil
    }

    /// A key of a LEEF attribute.
    static func leef(_ bytes: Bytes, _ key: Range<Int>) -> PayloadKey? {
        switch key.count {
        case 3:
            if bytes.equals(key, "sev") { return .numericSeverity }
        case 5:
            if bytes.equals(key, "title") { return .title }
        case 6:
            if bytes.equals(key, "srcMAC") { return .sourceMAC }
            if bytes.equals(key, "dstMAC") { return .destinationMAC }
        case 7:
            if bytes.equals(key, "devTime") { return .time }
        default:
            break
        }
        return cef(bytes, key)
    }
}

/// Collects the fields of CEF extensions and LEEF attributes, with the severity rule both
/// share: a word wins over a number.
struct PayloadFieldCollector {
    var severityWord: Severity?
    var severityNumber: Severity?
    let receivedAt: Date

    init(receivedAt: Date) {
        self.receivedAt = receivedAt
    }

    mutating func set(
        _ key: PayloadKey, _ bytes: Bytes, _ value: Range<Int>, _ escaping: Unescaping?, into fields: inout AlertFields
    ) {
        switch key {
        case .title: fields.title = bytes.nonEmptyString(value, escaping) ?? ""
        case .message: fields.message = bytes.nonEmptyString(value, escaping)
        case .protocolName: fields.protocolName = bytes.nonEmptyString(value, escaping)
        case .severity:
            if let word = Vocabulary.severity(word: bytes, value) {
                severityWord = word
            } else if let number = Vocabulary.severity(number: bytes, value) {
                severityNumber = number
            }
        case .numericSeverity:
            if let number = Vocabulary.severity(number: bytes, value) {
                severityNumber = number
            }
        case .engine:
            if bytes.decimal(value) == nil {
                fields.engine = Vocabulary.engine(bytes, value, escaping)
            }
        case .id: fields.id = bytes.nonEmptyString(value, escaping)
        case .time:
            guard !value.isEmpty else { return }
            fields.time = Timestamp.cef(bytes, value, receivedAt: receivedAt)
            fields.unreadableTime = fields.time == nil
        case .sourceIP: fields.sourceIP = bytes.nonEmptyString(value, escaping)
        case .destinationIP: fields.destinationIP = bytes.nonEmptyString(value, escaping)
        case .sourceMAC: fields.sourceMAC = bytes.nonEmptyString(value, escaping)
        case .destinationMAC: fields.destinationMAC = bytes.nonEmptyString(value, escaping)
        case .category: fields.category = bytes.nonEmptyString(value, escaping)
        }
    }
}

/// Header fields split at `|`, skipping `\|`.
struct HeaderFields {
    let bytes: Bytes
    var index: Int
    let end: Int

    /// The next field and the index after its `|`; nil when no `|` ends it.
    mutating func next() -> Range<Int>? {
        var search = index
        while let pipe = bytes.firstIndex(of: ASCII.pipe, in: search..<end) {
            var backslashes = 0
            while pipe - backslashes - 1 >= index, bytes[pipe - backslashes - 1] == ASCII.backslash { backslashes += 1 }
            if backslashes % 2 == 0 {
                defer { index = pipe + 1 }
                return index..<pipe
            }
            search = pipe + 1
        }
        return nil
    }
}

enum CEF {
    /// `CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension`
    /// at the start of `range`, into `fields`; false (and `fields` untouched) unless the
    /// whole header is there.
    static func parse(_ bytes: Bytes, _ range: Range<Int>, receivedAt: Date, into fields: inout AlertFields) -> Bool {
        let end = range.upperBound
        var index = range.lowerBound + 4  // "CEF:"
        let versionStart = index
        while index < end, ASCII.isDigit(bytes[index]) || bytes[index] == UInt8(ascii: ".") { index += 1 }
        guard index > versionStart, index < end, bytes[index] == ASCII.pipe else { return false }
        var header = HeaderFields(bytes: bytes, index: index + 1, end: end)
        guard header.next() != nil, let product = header.next(), header.next() != nil, header.next() != nil,
            let name = header.next(), let severity = header.next()
        else { return false }

        var collector = PayloadFieldCollector(receivedAt: receivedAt)
        // Most extensions hold no backslash at all: then no value needs unescaping and no
        // `=` is escaped, which one search tells for all of them.
        let escaping: Unescaping? = bytes.firstIndex(of: ASCII.backslash, in: header.index..<end) == nil ? nil : .cefExtension
        var pairs = ExtensionPairs(bytes: bytes, start: header.index, end: end, hasEscapes: escaping != nil)
        var unmapped: [Range<Int>] = []
        while let (key, value) = pairs.next() {
            if let field = PayloadKey.cef(bytes, key) {
                collector.set(field, bytes, value, escaping, into: &fields)
            } else if key.lowerBound < value.upperBound {
                unmapped.append(key.lowerBound..<bytes.trimmed(value).upperBound)
            }
        }
        if !unmapped.isEmpty {
            fields.extensions = Self.joined(bytes, unmapped)
        }
        fields.title = bytes.unescaped(name, .header)
        fields.sensor = bytes.nonEmptyString(product, .header)
        fields.severity = collector.severityWord ?? Vocabulary.severity(bytes, severity) ?? collector.severityNumber
        return true
    }

    /// The pairs as one string, escapes kept, one space between pairs.
    private static func joined(_ bytes: Bytes, _ ranges: [Range<Int>]) -> String {
        let length = ranges.reduce(ranges.count - 1) { $0 + $1.count }
        return String(unsafeUninitializedCapacity: length) { buffer in
            var position = 0
            for range in ranges {
                if position > 0 {
                    buffer[position] = ASCII.space
                    position += 1
                }
                for index in range {
                    buffer[position] = bytes[index]
                    position += 1
                }
            }
            return position
        }
    }

    /// The `key=value` pairs of a CEF extension. A key is a word of `[A-Za-z0-9_.-]` that
    /// follows an unescaped space (or starts the extension) and ends at an unescaped `=`;
    /// its value runs to the space before the next key, so values may hold spaces, and an
    /// unescaped `=` that does not end such a word stays in the value. The scan jumps from
    /// one `=` to the next (memchr) and looks back over the few bytes of a key.
    struct ExtensionPairs {
        let bytes: Bytes
        let start: Int
        let end: Int
        var index: Int
        let hasEscapes: Bool
        var key: Range<Int>?
        var valueStart: Int

        init(bytes: Bytes, start: Int, end: Int, hasEscapes: Bool) {
            self.bytes = bytes
            self.start = start
            self.end = end
            self.hasEscapes = hasEscapes
            self.index = start
            self.valueStart = start
        }

        mutating func next() -> (key: Range<Int>, value: Range<Int>)? {
            while let equals = bytes.firstIndex(of: ASCII.equals, in: index..<end) {
                index = equals + 1
                guard !isEscaped(equals) else { continue }
                var keyStart = equals
                while keyStart > start, Self.isKeyByte(bytes[keyStart - 1]) { keyStart -= 1 }
                guard keyStart < equals else { continue }
                let followsSpace = keyStart > start && bytes[keyStart - 1] == ASCII.space && !isEscaped(keyStart - 1)
                if let current = key {
                    // The space that ends the current value must lie inside it.
                    guard followsSpace, keyStart - 1 >= valueStart else { continue }
                    key = keyStart..<equals
                    defer { valueStart = equals + 1 }
                    return (current, valueStart..<keyStart - 1)
                }
                guard followsSpace || keyStart == start else { continue }
                key = keyStart..<equals
                valueStart = equals + 1
            }
            index = end
            guard let last = key else { return nil }
            key = nil
            return (last, valueStart..<end)
        }

        /// Whether an odd number of backslashes precedes `position`.
        @inline(__always)
        private func isEscaped(_ position: Int) -> Bool {
            guard hasEscapes else { return false }
            var backslashes = 0
            while position - backslashes > start, bytes[position - backslashes - 1] == ASCII.backslash { backslashes += 1 }
            return backslashes & 1 == 1
        }

        @inline(__always)
        private static func isKeyByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }
}

enum LEEF {
    /// `LEEF:1.0|Vendor|Product|Version|EventID|attributes` (TAB between attributes) or
    /// `LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|attributes`, the delimiter one
    /// character or its hex code (`x5E`, `0x5E`), TAB when empty or absent. An attribute is
    /// `key=value`, the key ending at the first `=`. Values are taken as they are: the LEEF
    /// specifications define no escapes inside a value (`C:\Users` is a path, not an
    /// escape). False (and `fields` untouched) unless the whole header is there.
    static func parse(_ bytes: Bytes, _ range: Range<Int>, receivedAt: Date, into fields: inout AlertFields) -> Bool {
        let end = range.upperBound
        var index = range.lowerBound + 5  // "LEEF:"
        let versionStart = index
        while index < end, ASCII.isDigit(bytes[index]) || bytes[index] == UInt8(ascii: ".") { index += 1 }
        guard index > versionStart, index < end, bytes[index] == ASCII.pipe else { return false }
        let isVersion2 = bytes[versionStart] == UInt8(ascii: "2")
        var header = HeaderFields(bytes: bytes, index: index + 1, end: end)
        guard header.next() != nil, let product = header.next(), header.next() != nil, let eventID = header.next()
        else { return false }

        var delimiter = Delimiter(byte: ASCII.tab)
        if isVersion2 {
            var lookahead = header
            if let field = lookahead.next(), let declared = Delimiter(bytes, field) {
                delimiter = declared
                header = lookahead
            }
        }

        var collector = PayloadFieldCollector(receivedAt: receivedAt)
        var attributeStart = header.index
        while attributeStart < end {
            let attributeEnd = delimiter.next(in: bytes, attributeStart..<end) ?? end
            if let equals = bytes.firstIndex(of: ASCII.equals, in: attributeStart..<attributeEnd),
                let field = PayloadKey.leef(bytes, bytes.trimmed(attributeStart..<equals))
            {
                collector.set(field, bytes, equals + 1..<attributeEnd, nil, into: &fields)
            }
            attributeStart = attributeEnd + delimiter.length
        }
        if fields.title == nil {
            fields.title = bytes.unescaped(eventID, .header)
        }
        fields.sensor = bytes.nonEmptyString(product, .header)
        fields.severity = collector.severityWord ?? collector.severityNumber
        return true
    }

    /// The attribute delimiter: one byte, or the bytes of one non-ASCII character.
    struct Delimiter {
        private var value: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
        private(set) var length: Int

        init(byte: UInt8) {
            value.0 = byte
            length = 1
        }

        /// The LEEF 2.0 delimiter field: empty (TAB), one character, or `xHH`/`0xHH`; nil
        /// for anything else, which is then no delimiter field but the first attribute.
        init?(_ bytes: Bytes, _ field: Range<Int>) {
            switch field.count {
            case 0:
                self.init(byte: ASCII.tab)
            case 1:
                self.init(byte: bytes[field.lowerBound])
            case 3, 4:
                let digits = field.upperBound - 2..<field.upperBound
                let prefixOK =
                    field.count == 3
                    ? ASCII.lowercased(bytes[field.lowerBound]) == UInt8(ascii: "x")
                    : bytes[field.lowerBound] == UInt8(ascii: "0") && ASCII.lowercased(bytes[field.lowerBound + 1]) == UInt8(ascii: "x")
                if prefixOK, let code = Self.hex(bytes, digits), code > 0 {
                    self.init(byte: code)
                    return
                }
                fallthrough
            case 2:
                // One multi-byte UTF-8 character.
                guard bytes[field.lowerBound] >= 0xC0,
                    field.dropFirst().allSatisfy({ bytes[$0] & 0xC0 == 0x80 }),
                    field.count == Self.sequenceLength(bytes[field.lowerBound])
                else { return nil }
                self.init(byte: bytes[field.lowerBound])
                length = field.count
                withUnsafeMutableBytes(of: &value) { storage in
                    for offset in 0..<field.count { storage[offset] = bytes[field.lowerBound + offset] }
                }
            default:
                return nil
            }
        }

        /// Where the delimiter next starts in `range`.
        func next(in bytes: Bytes, _ range: Range<Int>) -> Int? {
            var search = range
            while let found = bytes.firstIndex(of: value.0, in: search) {
                if length == 1 { return found }
                if found + length <= range.upperBound,
                    withUnsafeBytes(of: value, { delimiter in (1..<length).allSatisfy { bytes[found + $0] == delimiter[$0] } })
                {
                    return found
                }
                search = found + 1..<range.upperBound
            }
            return nil
        }

        private static func sequenceLength(_ lead: UInt8) -> Int {
            lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
        }

        private static func hex(_ bytes: Bytes, _ range: Range<Int>) -> UInt8? {
            var value: UInt8 = 0
            for index in range {
                let byte = ASCII.lowercased(bytes[index])
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): value = value << 4 | (byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): value = value << 4 | (byte - UInt8(ascii: "a") + 10)
                default: return nil
                }
            }
            return value
        }
    }
}
