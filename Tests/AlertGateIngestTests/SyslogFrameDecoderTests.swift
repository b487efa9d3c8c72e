import AlertGateCore
import AlertGateIngest
import NIOCore
import Testing

@Suite("Syslog TCP framing (RFC 6587), detected per connection")
struct SyslogFrameDecoderTests {
    typealias Event = SyslogFrameDecoder.FrameEvent

    /// Feeds `chunks` in order, then ends the stream; what a listener would see.
    static func decode(_ chunks: [String], maximum: Int = SyslogFrameDecoder.defaultMaximumMessageSize) -> [Event] {
        decode(chunks.map { Array($0.utf8) }, maximum: maximum)
    }

    static func decode(_ chunks: [[UInt8]], maximum: Int = SyslogFrameDecoder.defaultMaximumMessageSize) -> [Event] {
        var decoder = SyslogFrameDecoder(maximumMessageSize: maximum)
        var events: [Event] = []
        for chunk in chunks {
            var buffer = ByteBuffer(bytes: chunk)
            events += decoder.feed(&buffer)
            #expect(buffer.readableBytes == 0, "feed consumes every byte")
        }
        return events + decoder.finish()
    }

    static func message(_ text: String) -> Event {
        .message(ByteBuffer(string: text))
    }

    /// The same stream cut at every possible place gives the same events.
    static func expectSplitIndependent(_ stream: String, maximum: Int = SyslogFrameDecoder.defaultMaximumMessageSize, _ expected: [Event]) {
        let bytes = Array(stream.utf8)
        #expect(decode([bytes], maximum: maximum) == expected)
        for cut in 1..<bytes.count {
            #expect(decode([Array(bytes[..<cut]), Array(bytes[cut...])], maximum: maximum) == expected, "cut at \(cut)")
        }
        #expect(decode(bytes.map { [$0] }, maximum: maximum) == expected, "one byte at a time")
    }

    // MARK: - Newline framing

    @Test("LF-terminated messages, CRLF tolerated, NUL accepted, empty lines skipped")
    func newlineFraming() {
        Self.expectSplitIndependent(
            "<13>first\n<13>second\r\n\n<13>third\0<13>fourth\n",
            [Self.message("<13>first"), Self.message("<13>second"), Self.message("<13>third"), Self.message("<13>fourth")]
        )
    }

    @Test("a last line without its terminator is delivered at the end of the stream")
    func trailingLine() {
        Self.expectSplitIndependent("<13>one\n<13>two", [Self.message("<13>one"), Self.message("<13>two")])
        #expect(Self.decode(["<13>two\r"]) == [Self.message("<13>two")])
    }

    @Test("a line over the maximum is reported with its size and skipped up to its LF")
    func oversizeLine() {
        let long = String(repeating: "x", count: 40)
        Self.expectSplitIndependent(
            "<13>ok\n\(long)\n<13>after\n", maximum: 16,
            [Self.message("<13>ok"), .oversize(40), Self.message("<13>after")]
        )
    }

    @Test("a line of exactly the maximum passes, CRLF or not; one byte more does not")
    func maximumBoundary() {
        let exact = String(repeating: "y", count: 16)
        Self.expectSplitIndependent("\(exact)\r\n\(exact)\n", maximum: 16, [Self.message(exact), Self.message(exact)])
        Self.expectSplitIndependent("\(exact)z\n", maximum: 16, [.oversize(17)])
    }

    @Test("an oversize line is never buffered: a stream without LF ends as one oversize event")
    func endlessLine() {
        var decoder = SyslogFrameDecoder(maximumMessageSize: 1024)
        var events: [Event] = []
        for _ in 0..<1000 {
            var chunk = ByteBuffer(repeating: UInt8(ascii: "a"), count: 4096)
            events += decoder.feed(&chunk)
        }
        #expect(events.isEmpty)
        #expect(decoder.finish() == [.oversize(4_096_000)])
    }

    @Test("the first byte decides: a non-digit means newline framing for the whole connection")
    func detection() {
        var decoder = SyslogFrameDecoder()
        #expect(decoder.framing == nil)
        var buffer = ByteBuffer(string: "<13>a\n12 not a frame\n")
        #expect(decoder.feed(&buffer) == [Self.message("<13>a"), Self.message("12 not a frame")])
        #expect(decoder.framing == .nonTransparent)
    }

    // MARK: - Octet counting

    @Test("octet-counted frames, the message bytes exactly as sent (LF and all)")
    func octetCounting() {
        Self.expectSplitIndependent(
            "11 <13>a\nb c d9 <13>third",
            [Self.message("<13>a\nb c d"), Self.message("<13>third")]
        )
        var decoder = SyslogFrameDecoder()
        var buffer = ByteBuffer(string: "5 hello")
        _ = decoder.feed(&buffer)
        #expect(decoder.framing == .octetCounting)
    }

    @Test("line feeds and spaces between frames are skipped")
    func separatorsBetweenFrames() {
        Self.expectSplitIndependent("5 hello\n5 world\r\n 3 abc", [Self.message("hello"), Self.message("world"), Self.message("abc")])
    }

    @Test("an oversize frame is reported when its length is read and exactly LEN bytes are skipped")
    func oversizeFrame() {
        let body = String(repeating: "z", count: 30)
        Self.expectSplitIndependent("3 one30 \(body)3 two", maximum: 16, [Self.message("one"), .oversize(30), Self.message("two")])
    }

    @Test("the oversize event comes before the frame's bytes have arrived")
    func oversizeReportedEarly() {
        var decoder = SyslogFrameDecoder(maximumMessageSize: 100)
        var header = ByteBuffer(string: "5000000 abc")
        #expect(decoder.feed(&header) == [.oversize(5_000_000)])
        var rest = ByteBuffer(repeating: 0x41, count: 5_000_000 - 3)
        #expect(decoder.feed(&rest) == [])
        var next = ByteBuffer(string: "2 ok")
        #expect(decoder.feed(&next) == [Self.message("ok")])
    }

    @Test(
        "a broken length is reported and the rest of the connection is read as lines, from the broken length on",
        arguments: [
            ("12a4 rest\nnext\n", "'a' (0x61) in the frame length", ["12a4 rest", "next"]),
            ("0 hello\nnext\n", "a frame length of 0", ["0 hello", "next"]),
            ("1234567890 x\n", "a frame length of more than 9 digits", ["1234567890 x"]),
            ("5 hellogarbage\n7 <13>abc\n", "'g' (0x67) where a frame length should start", ["hello", "garbage", "7 <13>abc"]),
            ("007\n", "0x0A in the frame length", ["007"]),
        ]
    )
    func brokenFrame(stream: String, reason: String, messages: [String]) {
        let events = Self.decode([stream])
        let broken = events.firstIndex(of: .brokenFrame(reason))
        #expect(broken != nil, "events: \(events)")
        #expect(events.filter { if case .brokenFrame = $0 { true } else { false } }.count == 1)
        let texts = events.compactMap { event -> String? in
            if case .message(let buffer) = event { return String(buffer: buffer) }
            return nil
        }
        #expect(texts == messages)
        #expect(Self.decode(stream.utf8.map { [$0] }) == events, "the same, one byte at a time")
    }

    @Test("after a broken frame, newline framing holds for the rest of the connection")
    func staysNewlineAfterBreak() {
        var decoder = SyslogFrameDecoder()
        var buffer = ByteBuffer(string: "5 hellox\n")
        #expect(
            decoder.feed(&buffer) == [Self.message("hello"), .brokenFrame("'x' (0x78) where a frame length should start"), Self.message("x")]
        )
        #expect(decoder.framing == .nonTransparent)
        var more = ByteBuffer(string: "5 hello\n")
        #expect(decoder.feed(&more) == [Self.message("5 hello")])
    }

    @Test("a frame cut short by the end of the stream is a truncated broken frame")
    func truncatedFrame() {
        #expect(Self.decode(["10 abc"]) == [.brokenFrame("truncated: the stream ended 7 bytes short of a 10-byte frame")])
        #expect(Self.decode(["3 abc12"]) == [Self.message("abc"), .brokenFrame("truncated: the stream ended inside a frame length")])
        #expect(Self.decode(["3 abc\n"]) == [Self.message("abc")], "a separator after the last frame is no truncation")
    }

    @Test("a message that arrives in one chunk is a slice of it, not a copy")
    func zeroCopy() {
        var decoder = SyslogFrameDecoder()
        var buffer = ByteBuffer(string: "<13>a\n<13>b\n")
        let events = decoder.feed(&buffer)
        guard case .message(let first) = events.first else {
            Issue.record("no message")
            return
        }
        let shared = first.withUnsafeReadableBytes { message in
            buffer.withVeryUnsafeBytes { whole in
                message.baseAddress! >= whole.baseAddress! && message.baseAddress! < whole.baseAddress! + whole.count
            }
        }
        #expect(shared)
    }
}

@Suite("Framing and parsing together")
struct StreamToAlertsTests {
    @Test("a Defender sensor's TCP stream, cut anywhere, becomes its alerts in order")
    func defenderStream() {
        let messages = (1...3).map { number in
            "<9>Mar  1 08:15:3\(number) 10.1.0.2 CEF:0|Microsoft Defender for IoT|sensor-1|22.3.5|Microsoft Defender for IoT Alert|"
                + "Alert \(number)|\(number * 3)|msg=number \(number) UUID=id-\(number)"
        }
        for framing in ["newline", "octet"] {
            let stream = messages.map { framing == "newline" ? $0 + "\r\n" : "\($0.utf8.count) \($0)" }.joined()
            var decoder = SyslogFrameDecoder()
            var alerts: [Alert] = []
            for chunk in Array(stream.utf8).chunks(ofCount: 7) {
                var buffer = ByteBuffer(bytes: chunk)
                for event in decoder.feed(&buffer) {
                    guard case .message(let message) = event else {
                        Issue.record("\(framing): \(event)")
                        continue
                    }
                    alerts.append(
                        AlertParser().parse(message, receivedAt: Fixtures.receivedAt, appliance: "sensors", sourceAddress: "10.1.0.2").alert
                    )
                }
            }
            #expect(decoder.finish().isEmpty)
            #expect(alerts.map(\.id) == ["id-1", "id-2", "id-3"], "\(framing)")
            #expect(alerts.map(\.title) == ["Alert 1", "Alert 2", "Alert 3"])
            #expect(alerts.map(\.severity) == [.warning, .minor, .critical])
        }
    }
}

extension Array {
    fileprivate func chunks(ofCount size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
