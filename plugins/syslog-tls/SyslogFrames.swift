import AlertGateCore
import NIOCore

/// A batch of alerts as syslog frames (RFC 5425 octet counting, or one line each), cut into chunks of about one TLS record each so
/// the TCP acknowledgement of each chunk's records can be matched to its alerts.
struct SyslogFrames {
    struct Chunk {
        var bytes: ByteBuffer
        /// Alerts of the batch that end in this chunk or before it.
        var alertsThrough: Int
    }

    /// One TLS record carries at most 16 KiB of plaintext.
    static let chunkSize = 16 * 1024

    private(set) var chunks: [Chunk] = []

    init(_ alerts: [Alert], formatter: AlertFormatter, framing: SyslogFraming = .octetCounting, allocator: ByteBufferAllocator) {
        var message = allocator.buffer(capacity: 1024)
        var chunk = allocator.buffer(capacity: Self.chunkSize + 1024)
        for (index, alert) in alerts.enumerated() {
            message.clear()
            formatter.writeSyslogMessage(alert, into: &message)
            switch framing {
            case .octetCounting:
                // RFC 5425 §4.3: MSG-LEN SP SYSLOG-MSG.
                chunk.writeString(String(message.readableBytes))
                chunk.writeInteger(UInt8(ascii: " "))
                chunk.writeImmutableBuffer(message)
            case .newline:
                Self.writeLine(message, into: &chunk)
            }
            if chunk.readableBytes >= Self.chunkSize || index == alerts.count - 1 {
                chunks.append(Chunk(bytes: chunk, alertsThrough: index + 1))
                chunk = allocator.buffer(capacity: Self.chunkSize + 1024)
            }
        }
    }

    /// One message as one line (RFC 6587 §3.4.2): a line break inside it would end the
    /// frame early at a receiver that splits on LF, so LF and CR are written as `\n` and
    /// `\r` (the formats escape their own fields; this catches raw text and messages).
    static func writeLine(_ message: ByteBuffer, into chunk: inout ByteBuffer) {
        for byte in message.readableBytesView {
            switch byte {
            case UInt8(ascii: "\n"): chunk.writeStaticString("\\n")
            case UInt8(ascii: "\r"): chunk.writeStaticString("\\r")
            default: chunk.writeInteger(byte)
            }
        }
        chunk.writeInteger(UInt8(ascii: "\n"))
    }
}
