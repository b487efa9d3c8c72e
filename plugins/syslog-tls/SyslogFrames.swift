import AlertGateCore
import NIOCore

/// A batch of alerts as RFC 5425 frames, cut into chunks of about one TLS record each so
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

    init(_ alerts: [Alert], formatter: AlertFormatter, allocator: ByteBufferAllocator) {
        var message = allocator.buffer(capacity: 1024)
        var chunk = allocator.buffer(capacity: Self.chunkSize + 1024)
        for (index, alert) in alerts.enumerated() {
            message.clear()
            formatter.writeSyslogMessage(alert, into: &message)
            // Octet counting (RFC 5425 §4.3): MSG-LEN SP SYSLOG-MSG.
            chunk.writeString(String(message.readableBytes))
            chunk.writeInteger(UInt8(ascii: " "))
            chunk.writeImmutableBuffer(message)
            if chunk.readableBytes >= Self.chunkSize || index == alerts.count - 1 {
                chunks.append(Chunk(bytes: chunk, alertsThrough: index + 1))
                chunk = allocator.buffer(capacity: Self.chunkSize + 1024)
            }
        }
    }
}
