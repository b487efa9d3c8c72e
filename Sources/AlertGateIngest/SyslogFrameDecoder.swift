import NIOCore

/// Splits the byte stream of one syslog TCP (or TLS) connection into messages: a pure
/// state machine, fed whatever chunks the connection delivers, that knows nothing of
/// sockets, so that a listener's handler is a thin adapter around it.
///
/// The framing is detected from the connection's first byte (docs/reference.md §4):
/// - a digit: RFC 6587 octet counting, `LEN SP MSG`. Line feeds, carriage returns, NULs
///   and spaces between frames are skipped, as some senders end every frame with one.
/// - anything else: non-transparent framing (RFC 6587 §3.4.2), each message ended by LF
///   (a CR before it is dropped) or NUL. Empty lines are skipped.
///
/// A message longer than `maximumMessageSize` is never buffered whole: it yields
/// `.oversize(bytes)` and the decoder skips to the next frame boundary (the next LF or
/// NUL; exactly LEN bytes). An octet-counted frame reports its size as soon as its length
/// is read; a line when its end arrives.
///
/// A frame length that is not one (a non-digit before the space, 0, more than nine
/// digits) yields `.brokenFrame(reason)`, and the rest of the connection is read as lines,
/// starting with the bytes of the broken length: a newline-framed sender whose first
/// message began with a digit loses nothing.
///
/// A message is a slice of the chunk it arrived in when it lies wholly inside one (no
/// copy); one that spans chunks is gathered into a buffer of its own.
public struct SyslogFrameDecoder: Sendable {
    public enum FrameEvent: Sendable, Hashable {
        /// One complete message, without its framing.
        case message(ByteBuffer)
        /// A message of this many bytes was over the maximum and was skipped.
        case oversize(Int)
        /// The octet-counted framing broke, and why; the connection continues as lines.
        case brokenFrame(String)
    }

    public enum Framing: Sendable, Hashable {
        /// RFC 6587 §3.4.1, `LEN SP MSG`.
        case octetCounting
        /// RFC 6587 §3.4.2, messages ended by LF (or NUL).
        case nonTransparent
    }

    public static let defaultMaximumMessageSize = 64 * 1024
    /// An octet count of more digits than this is taken for garbage, not for a frame.
    public static let maximumLengthDigits = 9

    public let maximumMessageSize: Int

    private enum State: Sendable {
        /// Before the first byte.
        case detecting
        /// Reading a line into `pending`.
        case line
        /// Skipping an oversize line; the bytes skipped so far.
        case discardingLine(Int)
        /// Reading an octet count: its value so far, its digits, and the zeros before its
        /// first other digit (to give the bytes back if it breaks). No digits: between frames.
        case frameLength(value: Int, digits: Int, leadingZeros: Int)
        /// Reading a frame's bytes into `pending`.
        case frameBody(remaining: Int)
        /// Skipping an oversize frame's bytes.
        case skippingFrame(remaining: Int)
    }

    private var state = State.detecting
    /// The part of a message received so far, when it spans chunks.
    private var pending: ByteBuffer?

    public init(maximumMessageSize: Int = SyslogFrameDecoder.defaultMaximumMessageSize) {
        precondition(maximumMessageSize > 0, "maximumMessageSize must be positive")
        self.maximumMessageSize = maximumMessageSize
    }

    /// The framing detected, nil before the first byte. After a broken frame, `.nonTransparent`.
    public var framing: Framing? {
        switch state {
        case .detecting: nil
        case .line, .discardingLine: .nonTransparent
        case .frameLength, .frameBody, .skippingFrame: .octetCounting
        }
    }

    /// Consumes `buffer` and returns what it completed, in order: all of it, or up to the
    /// point where `maxEvents` events were completed (the rest is left in `buffer`, to be
    /// fed again when the caller has room for more).
    public mutating func feed(_ buffer: inout ByteBuffer, maxEvents: Int = .max) -> [FrameEvent] {
        var events: [FrameEvent] = []
        // Each step completes at most one event.
        while buffer.readableBytes > 0, events.count < maxEvents {
            switch state {
            case .detecting:
                let first = buffer.readableBytesView.first!
                state = Self.isDigit(first) ? .frameLength(value: 0, digits: 0, leadingZeros: 0) : .line
            case .line:
                readLine(&buffer, &events)
            case .discardingLine(let skipped):
                discardLine(&buffer, skipped: skipped, &events)
            case .frameLength(let value, let digits, let leadingZeros):
                readLength(&buffer, value: value, digits: digits, leadingZeros: leadingZeros, &events)
            case .frameBody(let remaining):
                readBody(&buffer, remaining: remaining, &events)
            case .skippingFrame(let remaining):
                let skipped = min(remaining, buffer.readableBytes)
                buffer.moveReaderIndex(forwardBy: skipped)
                state = skipped == remaining ? .frameLength(value: 0, digits: 0, leadingZeros: 0) : .skippingFrame(remaining: remaining - skipped)
            }
        }
        return events
    }

    /// At the end of the stream: a last line without its terminator is delivered; an
    /// octet-counted frame cut short is `.brokenFrame("truncated …")`. The decoder is then
    /// as new.
    public mutating func finish() -> [FrameEvent] {
        defer {
            state = .detecting
            pending = nil
        }
        switch state {
        case .detecting, .skippingFrame:
            return []
        case .line:
            guard var line = pending else { return [] }
            Self.dropCarriageReturn(&line)
            if line.readableBytes > maximumMessageSize { return [.oversize(line.readableBytes)] }
            return line.readableBytes > 0 ? [.message(line)] : []
        case .discardingLine(let skipped):
            return [.oversize(skipped)]
        case .frameLength(_, let digits, _):
            return digits == 0 ? [] : [.brokenFrame("truncated: the stream ended inside a frame length")]
        case .frameBody(let remaining):
            let received = pending?.readableBytes ?? 0
            return [.brokenFrame("truncated: the stream ended \(remaining) bytes short of a \(received + remaining)-byte frame")]
        }
    }

    // MARK: - Non-transparent framing

    private mutating func readLine(_ buffer: inout ByteBuffer, _ events: inout [FrameEvent]) {
        let pendingBytes = pending?.readableBytes ?? 0
        guard let terminator = Self.firstTerminator(buffer) else {
            // No end in this chunk: keep it, unless the line is already too long (one byte
            // over is allowed, for the CR of a CRLF).
            let total = pendingBytes + buffer.readableBytes
            if total > maximumMessageSize + 1 {
                pending = nil
                state = .discardingLine(total)
                buffer.moveReaderIndex(to: buffer.writerIndex)
            } else if pending == nil {
                pending = buffer.readSlice(length: buffer.readableBytes)
            } else {
                pending!.writeBuffer(&buffer)
            }
            return
        }
        var length = pendingBytes + terminator
        let lastByte: UInt8? =
            terminator > 0
            ? buffer.getInteger(at: buffer.readerIndex + terminator - 1, as: UInt8.self)
            : pending?.getInteger(at: pending!.writerIndex - 1, as: UInt8.self)
        if lastByte == ASCII.carriageReturn { length -= 1 }

        if length > maximumMessageSize {
            events.append(.oversize(length))
            buffer.moveReaderIndex(forwardBy: terminator + 1)
            pending = nil
            return
        }
        var line: ByteBuffer
        if var gathered = pending {
            var piece = buffer.readSlice(length: terminator)!
            gathered.writeBuffer(&piece)
            line = gathered
            pending = nil
        } else {
            line = buffer.readSlice(length: terminator)!
        }
        buffer.moveReaderIndex(forwardBy: 1)
        Self.dropCarriageReturn(&line)
        if line.readableBytes > 0 {
            events.append(.message(line))
        }
    }

    private mutating func discardLine(_ buffer: inout ByteBuffer, skipped: Int, _ events: inout [FrameEvent]) {
        guard let terminator = Self.firstTerminator(buffer) else {
            state = .discardingLine(skipped + buffer.readableBytes)
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return
        }
        events.append(.oversize(skipped + terminator))
        buffer.moveReaderIndex(forwardBy: terminator + 1)
        state = .line
    }

    /// The offset from the reader index of the first LF or NUL. Eight bytes at a time: a
    /// word holds a zero byte when `(w - 0x01…) & ~w & 0x80…` is not zero.
    private static func firstTerminator(_ buffer: ByteBuffer) -> Int? {
        buffer.withUnsafeReadableBytes { bytes -> Int? in
            let count = bytes.count
            var index = 0
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            let lineFeeds = ones &* UInt64(ASCII.lineFeed)
            while index + 8 <= count {
                let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                let feeds = word ^ lineFeeds
                let hasZero = ((word &- ones) & ~word) | ((feeds &- ones) & ~feeds)
                if hasZero & highs != 0 { break }
                index += 8
            }
            while index < count {
                let byte = bytes[index]
                if byte == ASCII.lineFeed || byte == ASCII.nul { return index }
                index += 1
            }
            return nil
        }
    }

    private static func dropCarriageReturn(_ line: inout ByteBuffer) {
        if line.readableBytes > 0, line.getInteger(at: line.writerIndex - 1, as: UInt8.self) == ASCII.carriageReturn {
            line.moveWriterIndex(to: line.writerIndex - 1)
        }
    }

    // MARK: - Octet counting

    private mutating func readLength(
        _ buffer: inout ByteBuffer, value: Int, digits: Int, leadingZeros: Int, _ events: inout [FrameEvent]
    ) {
        var value = value
        var digits = digits
        var leadingZeros = leadingZeros
        while let byte = buffer.readableBytesView.first {
            if Self.isDigit(byte) {
                guard digits < Self.maximumLengthDigits else {
                    return breakFrame("a frame length of more than \(Self.maximumLengthDigits) digits", value, digits, leadingZeros, &events)
                }
                if value == 0, byte == UInt8(ascii: "0") { leadingZeros += 1 }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                digits += 1
                buffer.moveReaderIndex(forwardBy: 1)
                continue
            }
            if digits == 0 {
                guard byte == ASCII.lineFeed || byte == ASCII.carriageReturn || byte == ASCII.nul || byte == ASCII.space else {
                    return breakFrame("\(Self.describe(byte)) where a frame length should start", value, digits, leadingZeros, &events)
                }
                buffer.moveReaderIndex(forwardBy: 1)
                continue
            }
            guard byte == ASCII.space else {
                return breakFrame("\(Self.describe(byte)) in the frame length", value, digits, leadingZeros, &events)
            }
            guard value > 0 else {
                return breakFrame("a frame length of 0", value, digits, leadingZeros, &events)
            }
            buffer.moveReaderIndex(forwardBy: 1)
            if value > maximumMessageSize {
                events.append(.oversize(value))
                state = .skippingFrame(remaining: value)
            } else {
                state = .frameBody(remaining: value)
            }
            return
        }
        state = .frameLength(value: value, digits: digits, leadingZeros: leadingZeros)
    }

    /// Falls back to lines for the rest of the connection, giving back the length's digits
    /// as the start of the first line; the byte that broke the frame is left in `buffer`.
    private mutating func breakFrame(
        _ reason: String, _ value: Int, _ digits: Int, _ leadingZeros: Int, _ events: inout [FrameEvent]
    ) {
        events.append(.brokenFrame(reason))
        state = .line
        pending = nil
        if digits > 0 {
            let text = String(repeating: "0", count: leadingZeros) + (value > 0 ? String(value) : "")
            pending = ByteBuffer(string: text)
        }
    }

    private mutating func readBody(_ buffer: inout ByteBuffer, remaining: Int, _ events: inout [FrameEvent]) {
        let available = min(remaining, buffer.readableBytes)
        if pending == nil, available == remaining {
            events.append(.message(buffer.readSlice(length: remaining)!))
            state = .frameLength(value: 0, digits: 0, leadingZeros: 0)
            return
        }
        if pending == nil {
            pending = ByteBufferAllocator().buffer(capacity: remaining)
        }
        var piece = buffer.readSlice(length: available)!
        pending!.writeBuffer(&piece)
        if available == remaining {
            events.append(.message(pending!))
            pending = nil
            state = .frameLength(value: 0, digits: 0, leadingZeros: 0)
        } else {
            state = .frameBody(remaining: remaining - available)
        }
    }

    @inline(__always)
    private static func isDigit(_ byte: UInt8) -> Bool {
        ASCII.isDigit(byte)
    }

    private static func describe(_ byte: UInt8) -> String {
        let hex = "0x" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
        return (0x21...0x7E).contains(byte) ? "'\(Unicode.Scalar(byte))' (\(hex))" : hex
    }
}
