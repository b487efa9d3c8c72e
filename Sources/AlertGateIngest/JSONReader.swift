/// A JSON (RFC 8259) reader over bytes in place, made for alert objects: it keeps where a
/// string or number is, and decodes only what the caller asks for. Nested values of
/// members nobody asked about are checked and skipped, to a depth of 64.
///
/// Lenient in one way only: control characters inside strings are taken as they are.
struct JSONReader {
    let bytes: Bytes
    var index: Int
    let end: Int

    static let maximumDepth = 64

    init(_ bytes: Bytes, _ range: Range<Int>) {
        self.bytes = bytes
        self.index = range.lowerBound
        self.end = range.upperBound
    }

    struct SyntaxError: Error {
        /// From the start of the text.
        var offset: Int
        var reason: String
    }

    /// A string's contents (between the quotes) and whether they hold an escape.
    struct StringValue {
        var range: Range<Int>
        var hasEscapes: Bool
    }

    /// A value as the alert fields need it: scalars by position, containers by kind.
    enum Value {
        case string(StringValue)
        case number(Range<Int>)
        case bool(Bool)
        case null
        case object
        case array

        /// How an error message names its type.
        var typeName: String {
            switch self {
            case .string: "a string"
            case .number: "a number"
            case .bool: "a boolean"
            case .null: "null"
            case .object: "an object"
            case .array: "an array"
            }
        }
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < end {
            switch bytes[index] {
            case ASCII.space, ASCII.tab, ASCII.lineFeed, ASCII.carriageReturn: index += 1
            default: return
            }
        }
    }

    @inline(__always)
    func peek() -> UInt8? {
        index < end ? bytes[index] : nil
    }

    func error(_ reason: String) -> SyntaxError {
        SyntaxError(offset: index, reason: index < end ? reason : "the text ends early: " + reason)
    }

    mutating func expect(_ byte: UInt8, _ reason: @autoclosure () -> String) throws(SyntaxError) {
        guard index < end, bytes[index] == byte else { throw error(reason()) }
        index += 1
    }

    /// Reads a value; an object or array is checked and skipped.
    mutating func readValue(depth: Int) throws(SyntaxError) -> Value {
        guard let byte = peek() else { throw error("expected a value") }
        switch byte {
        case ASCII.quote: return .string(try readString())
        case UInt8(ascii: "{"):
            try skipObject(depth: depth)
            return .object
        case UInt8(ascii: "["):
            try skipArray(depth: depth)
            return .array
        case UInt8(ascii: "t"):
            try readLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try readLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try readLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try readNumber())
        default:
            throw error("expected a value, found '\(Unicode.Scalar(byte))'")
        }
    }

    /// `{` … `}`: calls `member` with each key, leaving the reader at its value; `member`
    /// must read the value.
    mutating func readObject(
        depth: Int, _ member: (inout JSONReader, StringValue) throws(SyntaxError) -> Void
    ) throws(SyntaxError) {
        guard depth <= Self.maximumDepth else { throw error("nested deeper than \(Self.maximumDepth) levels") }
        try expect(UInt8(ascii: "{"), "expected '{'")
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            guard peek() == ASCII.quote else { throw error("expected a member name in double quotes") }
            let key = try readString()
            skipWhitespace()
            try expect(ASCII.colon, "expected ':' after a member name")
            skipWhitespace()
            try member(&self, key)
            skipWhitespace()
            guard let next = peek() else { throw error("expected ',' or '}'") }
            index += 1
            if next == UInt8(ascii: "}") { return }
            guard next == UInt8(ascii: ",") else {
                index -= 1
                throw error("expected ',' or '}' after a member")
            }
        }
    }

    private mutating func skipObject(depth: Int) throws(SyntaxError) {
        try readObject(depth: depth + 1) { (reader: inout JSONReader, _) throws(SyntaxError) in
            _ = try reader.readValue(depth: depth + 1)
        }
    }

    private mutating func skipArray(depth: Int) throws(SyntaxError) {
        guard depth + 1 <= Self.maximumDepth else { throw error("nested deeper than \(Self.maximumDepth) levels") }
        index += 1
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            _ = try readValue(depth: depth + 1)
            skipWhitespace()
            guard let next = peek() else { throw error("expected ',' or ']'") }
            index += 1
            if next == UInt8(ascii: "]") { return }
            guard next == UInt8(ascii: ",") else {
                index -= 1
                throw error("expected ',' or ']' after an array element")
            }
        }
    }

    /// A string from its opening quote; escapes are checked, not yet decoded.
    mutating func readString() throws(SyntaxError) -> StringValue {
        index += 1
        let start = index
        var hasEscapes = false
        // Each stretch up to the next quote is searched once for a backslash, so a string
        // full of escapes is still read in one pass.
        guard var quote = bytes.firstIndex(of: ASCII.quote, in: index..<end) else {
            index = end
            throw error("unterminated string")
        }
        while let backslash = bytes.firstIndex(of: ASCII.backslash, in: index..<quote) {
            hasEscapes = true
            index = backslash + 1
            guard index < end else { throw error("unterminated string") }
            switch bytes[index] {
            case ASCII.quote, ASCII.backslash, UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                UInt8(ascii: "r"), UInt8(ascii: "t"):
                index += 1
            case UInt8(ascii: "u"):
                guard end - index > 4, (index + 1...index + 4).allSatisfy({ Self.hexValue(bytes[$0]) != nil }) else {
                    throw error("\\u must be followed by four hex digits")
                }
                index += 5
            default:
                throw error("invalid escape '\\\(Unicode.Scalar(bytes[index]))' in a string")
            }
            if index > quote {
                guard let next = bytes.firstIndex(of: ASCII.quote, in: index..<end) else {
                    index = end
                    throw error("unterminated string")
                }
                quote = next
            }
        }
        index = quote + 1
        return StringValue(range: start..<quote, hasEscapes: hasEscapes)
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    mutating func readNumber() throws(SyntaxError) -> Range<Int> {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let first = peek(), ASCII.isDigit(first) else { throw error("expected a digit") }
        index += 1
        if first != UInt8(ascii: "0") {
            while let byte = peek(), ASCII.isDigit(byte) { index += 1 }
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard let byte = peek(), ASCII.isDigit(byte) else { throw error("expected a digit after '.'") }
            while let byte = peek(), ASCII.isDigit(byte) { index += 1 }
        }
        if let byte = peek(), byte | 0x20 == UInt8(ascii: "e") {
            index += 1
            if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { index += 1 }
            guard let byte = peek(), ASCII.isDigit(byte) else { throw error("expected a digit in the exponent") }
            while let byte = peek(), ASCII.isDigit(byte) { index += 1 }
        }
        return start..<index
    }

    private mutating func readLiteral(_ literal: StaticString) throws(SyntaxError) {
        guard bytes.hasPrefix(literal, at: index, end: end) else { throw error("expected \(literal)") }
        index += literal.utf8CodeUnitCount
    }

    // MARK: - Decoding

    /// The text of a string value. Escapes only ever shorten it (`\uXXXX` is six bytes for
    /// at most three; a surrogate pair twelve for four), so the result is written straight
    /// into storage of the encoded length. A lone surrogate becomes U+FFFD.
    func decode(_ value: StringValue) -> String {
        guard value.hasEscapes else { return bytes.string(value.range) }
        return String(unsafeUninitializedCapacity: value.range.count) { output in
            var written = 0
            var index = value.range.lowerBound
            let end = value.range.upperBound
            while index < end {
                let byte = bytes[index]
                guard byte == ASCII.backslash else {
                    output[written] = byte
                    written += 1
                    index += 1
                    continue
                }
                let escape = bytes[index + 1]
                index += 2
                let simple: UInt8?
                switch escape {
                case UInt8(ascii: "b"): simple = 0x08
                case UInt8(ascii: "f"): simple = 0x0C
                case UInt8(ascii: "n"): simple = ASCII.lineFeed
                case UInt8(ascii: "r"): simple = ASCII.carriageReturn
                case UInt8(ascii: "t"): simple = ASCII.tab
                case UInt8(ascii: "u"): simple = nil
                default: simple = escape  // \" \\ \/
                }
                if let simple {
                    output[written] = simple
                    written += 1
                    continue
                }
                var scalar = hex4(at: index)
                index += 4
                if (0xD800..<0xDC00).contains(scalar) {
                    if index + 6 <= end, bytes[index] == ASCII.backslash, bytes[index + 1] == UInt8(ascii: "u") {
                        let low = hex4(at: index + 2)
                        if (0xDC00..<0xE000).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            index += 6
                        } else {
                            scalar = 0xFFFD
                        }
                    } else {
                        scalar = 0xFFFD
                    }
                } else if (0xDC00..<0xE000).contains(scalar) {
                    scalar = 0xFFFD
                }
                for unit in UTF8.encode(Unicode.Scalar(scalar)!)! {
                    output[written] = unit
                    written += 1
                }
            }
            return written
        }
    }

    private func hex4(at index: Int) -> UInt32 {
        var value: UInt32 = 0
        for offset in 0..<4 {
            value = value << 4 | UInt32(Self.hexValue(bytes[index + offset]) ?? 0)
        }
        return value
    }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
