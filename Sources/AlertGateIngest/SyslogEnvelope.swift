import AlertGateCore
import Foundation

/// The syslog header around a payload, RFC 5424 or RFC 3164, read in place.
///
/// A message that starts with a valid `<PRI>` but whose header is neither form keeps the
/// PRI's severity, and the rest after the PRI is its message.
struct SyslogEnvelope {
    /// `.rfc5424`, `.rfc3164`, or empty.
    var format: RecognizedFormats = []
    /// The severity of the PRI, when there was one.
    var prioritySeverity: Severity?
    /// Seconds since 1970.
    var time: TimeInterval?
    var unreadableTime = false
    /// HOSTNAME, when the header named one.
    var hostname: Range<Int>?
    /// The MSG: for RFC 3164 the text after the hostname, tag included; without an
    /// envelope, the whole message.
    var message: Range<Int>
    /// Where a payload (CEF, LEEF, JSON) may start: the MSG without an RFC 3164 tag
    /// (`kernel:`, `sshd[42]:`) and without a UTF-8 byte order mark.
    var content: Range<Int>
    /// alertgate's own structured data, `[alertgate@32473 id="…" appliance="…" severity="…"]`.
    var ours = OurStructuredData()

    /// The parameters' values, escaped as they came: only one that the alert needs is
    /// turned into a string (a CEF payload's `UUID=` makes the `id` here redundant).
    struct OurStructuredData {
        var present = false
        var id: Range<Int>?
        var appliance: Range<Int>?
        var severity: Severity?
    }

    init(_ bytes: Bytes, receivedAt: Date) {
        let end = bytes.count
        message = 0..<end
        content = 0..<end
        var index = 0
        if end > 0, bytes[0] == UInt8(ascii: "<"), let (priority, afterPRI) = Self.priority(bytes) {
            prioritySeverity = Vocabulary.severity(priority: priority)
            index = afterPRI
            message = index..<end
            content = index..<end
            if bytes.hasPrefix("1 ", at: index, end: end), readRFC5424(bytes, from: index + 2) {
                return
            }
        }
        if readRFC3164(bytes, from: index, receivedAt: receivedAt) {
            return
        }
        content = Self.payloadStart(bytes, content)
    }

    /// `<0>` … `<191>`: the PRI value and the index after `>`.
    private static func priority(_ bytes: Bytes) -> (Int, Int)? {
        var index = 1
        var value = 0
        while index < bytes.count, index <= 4, ASCII.isDigit(bytes[index]) {
            value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
            index += 1
        }
        guard index > 1, index < bytes.count, bytes[index] == UInt8(ascii: ">"), value <= 191 else { return nil }
        return (value, index + 1)
    }

    // MARK: - RFC 5424

    /// `TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]`
    /// from `start` (after `<PRI>1 `). False, and nothing changed, unless all the header is there.
    private mutating func readRFC5424(_ bytes: Bytes, from start: Int) -> Bool {
        let end = bytes.count
        var index = start
        // TIMESTAMP, HOSTNAME, APP-NAME, PROCID, MSGID: each a word and one space.
        var timestamp = 0..<0
        var host = 0..<0
        for field in 0..<5 {
            let wordEnd = bytes.firstIndex(of: ASCII.space, in: index..<end) ?? end
            guard wordEnd > index, wordEnd < end || field == 4 else { return false }
            if field == 0 { timestamp = index..<wordEnd }
            if field == 1 { host = index..<wordEnd }
            index = min(wordEnd + 1, end)
        }
        if !bytes.equals(host, "-") {
            hostname = host
        }
        if !bytes.equals(timestamp, "-") {
            time = Timestamp.rfc3339(bytes, timestamp)
            unreadableTime = time == nil
        }
        format = .rfc5424
        guard index < end else {
            message = end..<end
            content = message
            return true
        }
        if bytes[index] == UInt8(ascii: "-") {
            index += 1
        } else if let afterData = readStructuredData(bytes, from: index) {
            index = afterData
        }
        // A malformed SD-ELEMENT is left in the MSG rather than lost.
        if index < end, bytes[index] == ASCII.space { index += 1 }
        message = index..<end
        content = Self.payloadStart(bytes, message, strippingTag: false)
        return true
    }

    /// One or more `[SD-ID *(SP PARAM-NAME="PARAM-VALUE")]`: the index after the last `]`,
    /// or nil when they are malformed. Reads the parameters of `alertgate@32473`.
    private mutating func readStructuredData(_ bytes: Bytes, from start: Int) -> Int? {
        let end = bytes.count
        var index = start
        var found = OurStructuredData()
        while index < end, bytes[index] == UInt8(ascii: "[") {
            index += 1
            let idStart = index
            while index < end, bytes[index] != ASCII.space, bytes[index] != UInt8(ascii: "]") { index += 1 }
            guard index < end, index > idStart else { return nil }
            let isOurs = bytes.equals(idStart..<index, "alertgate@32473")
            found.present = found.present || isOurs
            while index < end, bytes[index] == ASCII.space {
                index += 1
                let nameStart = index
                guard let equals = bytes.firstIndex(of: ASCII.equals, in: index..<end), equals > nameStart,
                    equals + 1 < end, bytes[equals + 1] == ASCII.quote
                else { return nil }
                index = equals + 2
                let valueStart = index
                guard let closing = Self.closingQuote(bytes, from: valueStart, end: end) else { return nil }
                let value = valueStart..<closing
                index = closing + 1
                if isOurs {
                    let name = nameStart..<equals
                    if bytes.equals(name, "id") {
                        found.id = value.isEmpty ? nil : value
                    } else if bytes.equals(name, "appliance") {
                        found.appliance = value.isEmpty ? nil : value
                    } else if bytes.equals(name, "severity") {
                        found.severity = Vocabulary.severity(word: bytes, value)
                    }
                }
            }
            guard index < end, bytes[index] == UInt8(ascii: "]") else { return nil }
            index += 1
        }
        ours = found
        return index
    }

    /// The first `"` from `start` that no backslash escapes.
    private static func closingQuote(_ bytes: Bytes, from start: Int, end: Int) -> Int? {
        var search = start
        while let quote = bytes.firstIndex(of: ASCII.quote, in: search..<end) {
            var backslashes = 0
            while quote - backslashes > start, bytes[quote - backslashes - 1] == ASCII.backslash { backslashes += 1 }
            if backslashes & 1 == 0 { return quote }
            search = quote + 1
        }
        return nil
    }

    // MARK: - RFC 3164

    /// `TIMESTAMP SP [HOSTNAME SP] MSG` from `start` (after `<PRI>`, or at the start of a
    /// message whose relay dropped the PRI). The timestamp is BSD's, or RFC 3339 as
    /// rsyslog's high-precision template writes it. A first word that ends in `:` or holds
    /// `[` is a tag, not a hostname; one that starts a payload (`CEF:`, `LEEF:`, `{`) is
    /// the payload.
    private mutating func readRFC3164(_ bytes: Bytes, from start: Int, receivedAt: Date) -> Bool {
        let end = bytes.count
        var index: Int
        if let (bsdTime, after) = Timestamp.bsd(bytes, start..<end, receivedAt: receivedAt) {
            time = bsdTime
            index = after
        } else if end - start > 19, ASCII.isDigit(bytes[start]), bytes[start + 4] == UInt8(ascii: "-"),
            let space = bytes.firstIndex(of: ASCII.space, in: start..<end),
            let isoTime = Timestamp.rfc3339(bytes, start..<space)
        {
            time = isoTime
            index = space
        } else {
            return false
        }
        guard index == end || bytes[index] == ASCII.space else {
            time = nil
            return false
        }
        index = min(index + 1, end)
        let wordEnd = bytes.firstIndex(of: ASCII.space, in: index..<end) ?? end
        let word = index..<wordEnd
        let startsPayload =
            bytes.hasPrefix("CEF:", at: index, end: end) || bytes.hasPrefix("LEEF:", at: index, end: end)
            || (index < end && bytes[index] == UInt8(ascii: "{"))
        let isTag = !word.isEmpty && (bytes[wordEnd - 1] == ASCII.colon || bytes.firstIndex(of: UInt8(ascii: "["), in: word) != nil)
        if !word.isEmpty, !startsPayload, !isTag {
            hostname = word
            index = min(wordEnd + 1, end)
        }
        format = .rfc3164
        message = index..<end
        content = Self.payloadStart(bytes, message)
        return true
    }

    /// `range` without a leading byte order mark and spaces and, unless told otherwise,
    /// without an RFC 3164 TAG (`app:`, `app[pid]:` followed by a space or the end).
    private static func payloadStart(_ bytes: Bytes, _ range: Range<Int>, strippingTag: Bool = true) -> Range<Int> {
        var index = range.lowerBound
        let end = range.upperBound
        if bytes.hasPrefix("\u{FEFF}", at: index, end: end) { index += 3 }
        while index < end, bytes[index] == ASCII.space { index += 1 }
        guard strippingTag else { return index..<end }
        var tagEnd = index
        while tagEnd < end, tagEnd - index < 48, isTagCharacter(bytes[tagEnd]) { tagEnd += 1 }
        guard tagEnd > index, tagEnd < end else { return index..<end }
        if bytes[tagEnd] == UInt8(ascii: "["), let close = bytes.firstIndex(of: UInt8(ascii: "]"), in: tagEnd..<end) {
            tagEnd = close + 1
        }
        guard tagEnd < end, bytes[tagEnd] == ASCII.colon, tagEnd + 1 == end || bytes[tagEnd + 1] == ASCII.space else {
            return index..<end
        }
        index = tagEnd + 1
        while index < end, bytes[index] == ASCII.space { index += 1 }
        return index..<end
    }

    @inline(__always)
    private static func isTagCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "/"):
            true
        default:
            false
        }
    }
}
