import NIOCore

/// Writes bytes into memory reserved up front in a `ByteBuffer`.
///
/// Each `ByteBuffer` write checks capacity and uniqueness; an alert is made of ~60 small
/// pieces, and those checks cost more than the bytes. The formatter therefore reserves an
/// upper bound for the whole alert once (`ByteBuffer.writeDirect`) and fills it through
/// this writer. Every write still checks the bound; content that outgrows an estimate
/// (an alert is whatever a peer sent) never traps: past the reservation the writer stores
/// nothing and only counts, and `writeDirect` writes again into a reservation of the size
/// counted. Formatting is deterministic, so the second pass fits.
struct ByteWriter {
    private let base: UnsafeMutableRawBufferPointer
    /// The bytes written so far, or that would have been: past the reservation it goes on
    /// counting without storing.
    private(set) var count = 0

    init(_ base: UnsafeMutableRawBufferPointer) {
        self.base = base
    }

    /// Whether everything written fits in the reservation.
    var fits: Bool { count <= base.count }

    /// Whether `more` bytes fit after what was written; when not, the caller only counts.
    @inline(__always)
    private func room(_ more: Int) -> Bool {
        more <= base.count &- count
    }

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        if room(1) {
            base.storeBytes(of: value, toByteOffset: count, as: UInt8.self)
        }
        count &+= 1
    }

    @inline(__always)
    mutating func bytes(_ text: StaticString) {
        bytes(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inline(__always)
    mutating func bytes(_ source: UnsafeRawBufferPointer) {
        guard let start = source.baseAddress, source.count > 0 else { return }
        if room(source.count) {
            (base.baseAddress! + count).copyMemory(from: start, byteCount: source.count)
        }
        count &+= source.count
    }

    /// The UTF-8 of `text`, as it is.
    @inline(__always)
    mutating func string(_ text: String) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { bytes(UnsafeRawBufferPointer($0)) }
        if copied == nil {
            for value in text.utf8 { byte(value) }
        }
    }

    /// The UTF-8 of `text` escaped per `escaping`: runs that need nothing are copied whole.
    @inline(__always)
    mutating func escaped(_ text: String, _ escaping: TextEscaping) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { escaped($0, escaping) }
        if copied == nil {
            let contiguous = Array(text.utf8)
            contiguous.withUnsafeBufferPointer { escaped($0, escaping) }
        }
    }

    /// Scans eight bytes at a time (SWAR): a word with no control character, no `\\` and
    /// neither of the scheme's printable specials is skipped whole; only a word that may
    /// hold one is looked at byte by byte.
    @inline(__always)
    private mutating func escaped(_ source: UnsafeBufferPointer<UInt8>, _ escaping: TextEscaping) {
        guard let start = source.baseAddress else { return }
        let raw = UnsafeRawBufferPointer(source)
        let special = escaping.specialBytes
        let (first, second) = escaping.printableSpecials
        let backslashes = Self.repeated(UInt8(ascii: "\\"))
        let firsts = Self.repeated(first)
        let seconds = Self.repeated(second)
        let count = source.count
        var runStart = 0
        var index = 0
        while index < count {
            if index &+ 8 <= count {
                let word = UnsafeRawPointer(start + index).loadUnaligned(as: UInt64.self)
                let mayHoldSpecial =
                    Self.hasByteBelow0x20(word) || Self.hasZeroByte(word ^ backslashes)
                    || Self.hasZeroByte(word ^ firsts) || Self.hasZeroByte(word ^ seconds)
                if !mayHoldSpecial {
                    index &+= 8
                    continue
                }
            }
            let end = Swift.min(index &+ 8, count)
            while index < end {
                let byte = source[index]
                if TextEscaping.isSpecial(byte, in: special), let replacement = escaping.replacement(for: byte) {
                    if runStart < index {
                        bytes(UnsafeRawBufferPointer(rebasing: raw[runStart..<index]))
                    }
                    bytes(replacement)
                    runStart = index &+ 1
                }
                index &+= 1
            }
        }
        if runStart < count {
            bytes(UnsafeRawBufferPointer(rebasing: raw[runStart...]))
        }
    }

    @inline(__always)
    private static func repeated(_ byte: UInt8) -> UInt64 {
        0x0101_0101_0101_0101 &* UInt64(byte)
    }

    /// Whether any byte of `word` is zero (exact, "Bit Twiddling Hacks").
    @inline(__always)
    private static func hasZeroByte(_ word: UInt64) -> Bool {
        (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080 != 0
    }

    /// Whether any byte of `word` is below 0x20, a control character (exact).
    @inline(__always)
    private static func hasByteBelow0x20(_ word: UInt64) -> Bool {
        (word &- 0x2020_2020_2020_2020) & ~word & 0x8080_8080_8080_8080 != 0
    }

    /// Takes back the last byte written.
    mutating func removeLast() {
        guard count > 0 else { return }
        count &-= 1
    }

    /// A non-negative `value` in decimal, zero-padded to at least `width` digits.
    @inline(__always)
    mutating func decimal(_ value: Int, width: Int = 1) {
        // Negative values do not occur (severities, calendar fields); written as 0 rather
        // than trapping should one ever come.
        let value = Swift.max(0, value)
        var digits = 1
        var power = 1
        while power <= value / 10 {
            power &*= 10
            digits &+= 1
        }
        let total = Swift.max(width, digits)
        guard room(total) else {
            count &+= total
            return
        }
        var offset = count
        for _ in digits..<total {
            base.storeBytes(of: UInt8(ascii: "0"), toByteOffset: offset, as: UInt8.self)
            offset &+= 1
        }
        var rest = value
        while power > 0 {
            base.storeBytes(of: UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest / power), toByteOffset: offset, as: UInt8.self)
            offset &+= 1
            rest %= power
            power /= 10
        }
        count = offset
    }

    /// Two digits, for the fields of a date (0...99).
    @inline(__always)
    mutating func twoDigits(_ value: Int) {
        guard room(2) else {
            count &+= 2
            return
        }
        let value = Swift.min(99, Swift.max(0, value))
        base.storeBytes(of: UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value / 10), toByteOffset: count, as: UInt8.self)
        base.storeBytes(of: UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value % 10), toByteOffset: count &+ 1, as: UInt8.self)
        count &+= 2
    }
}

extension ByteBuffer {
    /// Reserves at least `capacity` writable bytes, lets `body` fill them through a
    /// `ByteWriter`, and moves the writer index past what it wrote. When `body` wrote more
    /// than the reservation held (an estimate too small for some content), nothing of it is
    /// kept and `body` runs again with a reservation of the size it counted; `body` must
    /// write the same bytes each time.
    @inline(__always)
    mutating func writeDirect(reserving capacity: Int, _ body: (inout ByteWriter) -> Void) {
        var needed = Swift.max(0, capacity)
        while true {
            var counted = 0
            var fitted = false
            writeWithUnsafeMutableBytes(minimumWritableBytes: needed) { memory in
                var writer = ByteWriter(memory)
                body(&writer)
                counted = writer.count
                fitted = writer.fits
                return fitted ? writer.count : 0
            }
            if fitted { return }
            needed = counted
        }
    }
}
