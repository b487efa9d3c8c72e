import Foundation

/// The bytes of one message. Every parser here reads them in place, by index, and makes a
/// `String` only of a field it keeps: no scanner, no regular expression, no per-byte
/// string building.
typealias Bytes = UnsafeBufferPointer<UInt8>

enum ASCII {
    static let backslash = UInt8(ascii: "\\")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let lineFeed = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let nul: UInt8 = 0
    static let pipe = UInt8(ascii: "|")
    static let equals = UInt8(ascii: "=")
    static let quote = UInt8(ascii: "\"")
    static let colon = UInt8(ascii: ":")

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }
}

/// Which backslash escapes a field's syntax defines. An escape the scheme does not know
/// stays as it came, backslash included.
enum Unescaping {
    /// CEF and LEEF header fields: `\|`, `\\`.
    case header
    /// CEF extension values: `\\`, `\=`, `\|`, `\n`, `\r`.
    case cefExtension
    /// RFC 5424 SD-PARAM values (§6.3.3): `\"`, `\\`, `\]`.
    case structuredData

    @inline(__always)
    func replacement(for byte: UInt8) -> UInt8? {
        switch byte {
        case ASCII.backslash: return byte
        case ASCII.pipe: return self == .structuredData ? nil : byte
        case ASCII.equals: return self == .cefExtension ? byte : nil
        case UInt8(ascii: "n"): return self == .cefExtension ? ASCII.lineFeed : nil
        case UInt8(ascii: "r"): return self == .cefExtension ? ASCII.carriageReturn : nil
        case ASCII.quote, UInt8(ascii: "]"): return self == .structuredData ? byte : nil
        default: return nil
        }
    }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// The bytes of `range` as text. They are valid UTF-8 (the parser repairs a message
    /// before it reads it), and a range split at ASCII bytes stays valid.
    @inline(__always)
    func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: self[range]), as: UTF8.self)
    }

    /// `string(range)`, or nil when the range is empty: the parsers treat an empty field as
    /// an absent one.
    @inline(__always)
    func nonEmptyString(_ range: Range<Int>, _ escaping: Unescaping? = nil) -> String? {
        guard !range.isEmpty else { return nil }
        guard let escaping else { return string(range) }
        return unescaped(range, escaping)
    }

    /// The text of `range` with the escapes of `escaping` resolved. Without a backslash in
    /// it, that is the bytes as they are; otherwise one pass writes the result straight into
    /// the new string's storage (escapes only ever shorten the text).
    func unescaped(_ range: Range<Int>, _ escaping: Unescaping) -> String {
        guard let firstBackslash = firstIndex(of: ASCII.backslash, in: range) else { return string(range) }
        return String(unsafeUninitializedCapacity: range.count) { output in
            var written = firstBackslash - range.lowerBound
            if written > 0 {
                _ = output.initialize(fromContentsOf: UnsafeBufferPointer(rebasing: self[range.lowerBound..<firstBackslash]))
            }
            var index = firstBackslash
            while index < range.upperBound {
                let byte = self[index]
                if byte == ASCII.backslash, index + 1 < range.upperBound,
                    let replacement = escaping.replacement(for: self[index + 1])
                {
                    output[written] = replacement
                    index += 2
                } else {
                    output[written] = byte
                    index += 1
                }
                written += 1
            }
            return written
        }
    }

    /// The first index of `byte` within `range`.
    @inline(__always)
    func firstIndex(of byte: UInt8, in range: Range<Int>) -> Int? {
        guard !range.isEmpty, let base = baseAddress else { return nil }
        guard let found = memchr(base + range.lowerBound, Int32(byte), range.count) else { return nil }
        return base.distance(to: UnsafePointer(found.assumingMemoryBound(to: UInt8.self)))
    }

    /// Whether the bytes from `index` (before `end`) begin with `literal`.
    @inline(__always)
    func hasPrefix(_ literal: StaticString, at index: Int, end: Int) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard end - index >= count, let base = baseAddress else { return false }
        return memcmp(base + index, literal.utf8Start, count) == 0
    }

    /// Whether `range` holds exactly `literal`.
    @inline(__always)
    func equals(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        range.count == literal.utf8CodeUnitCount && hasPrefix(literal, at: range.lowerBound, end: range.upperBound)
    }

    /// Whether `range` holds `lowercase` in any ASCII case.
    func equalsIgnoringCase(_ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        let count = lowercase.utf8CodeUnitCount
        guard range.count == count else { return false }
        let literal = lowercase.utf8Start
        for offset in 0..<count where ASCII.lowercased(self[range.lowerBound + offset]) != literal[offset] {
            return false
        }
        return true
    }

    /// `range` without leading and trailing spaces and tabs.
    func trimmed(_ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, self[lower] == ASCII.space || self[lower] == ASCII.tab { lower += 1 }
        while upper > lower, self[upper - 1] == ASCII.space || self[upper - 1] == ASCII.tab { upper -= 1 }
        return lower..<upper
    }

    /// The decimal number `range` spells (digits only, at most 18 of them), else nil.
    func decimal(_ range: Range<Int>) -> Int? {
        guard !range.isEmpty, range.count <= 18 else { return nil }
        var value = 0
        for index in range {
            let byte = self[index]
            guard ASCII.isDigit(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}

enum UTF8Validation {
    /// Whether `bytes` are well-formed UTF-8 (no overlong form, no surrogate, nothing past
    /// U+10FFFF): the same judgement as `String(decoding:as:)`, which replaces what fails
    /// it with U+FFFD. Eight ASCII bytes are passed at a time.
    static func isValid(_ bytes: Bytes) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var index = 0
        let raw = UnsafeRawPointer(base)
        while index < count {
            // 32 ASCII bytes at a time, then 8, then one.
            while index + 32 <= count {
                let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    | raw.loadUnaligned(fromByteOffset: index + 8, as: UInt64.self)
                    | raw.loadUnaligned(fromByteOffset: index + 16, as: UInt64.self)
                    | raw.loadUnaligned(fromByteOffset: index + 24, as: UInt64.self)
                guard word & 0x8080_8080_8080_8080 == 0 else { break }
                index += 32
            }
            if index + 8 <= count, raw.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                index += 8
                continue
            }
            guard index < count else { break }
            let lead = base[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return false
            }
            guard index + length <= count else { return false }
            let second = base[index + 1]
            guard second >= low, second <= high else { return false }
            for offset in 2..<max(2, length) where base[index + offset] & 0xC0 != 0x80 {
                return false
            }
            index += length
        }
        return true
    }
}
