import AlertGateCore

/// A batch of alerts encoded as spool records, ready to append.
///
/// Encoding and checksumming are done by whoever makes the batch (a listener's task),
/// not on the queue: the queue only copies bytes and assigns sequence numbers, so many
/// listeners encode in parallel while one queue writes.
///
/// Record: `u32 length | u32 crc32(payload) | payload`, little endian. A record's
/// sequence number is its position: a segment file is named after the sequence of its
/// first record, and records follow without gaps.
public struct SpoolRecords: Sendable {
    static let headerSize = 8

    public private(set) var alerts: [Alert]
    private(set) var bytes: [UInt8]
    /// Each record's payload length, in order.
    private(set) var lengths: [Int]

    public init(_ alerts: [Alert]) {
        self.alerts = alerts
        bytes = []
        lengths = []
        lengths.reserveCapacity(alerts.count)
        bytes.reserveCapacity(alerts.count * 320)
        for alert in alerts {
            // Encoded in place after a header that is filled in once the length is known.
            let start = bytes.count
            bytes.append(contentsOf: Self.emptyHeader)
            AlertCoding.encode(alert, into: &bytes)
            let length = bytes.count - start - Self.headerSize
            bytes.withUnsafeMutableBytes { raw in
                let checksum = CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[(start + Self.headerSize)...]))
                raw.storeBytes(of: UInt32(length).littleEndian, toByteOffset: start, as: UInt32.self)
                raw.storeBytes(of: checksum.littleEndian, toByteOffset: start + 4, as: UInt32.self)
            }
            lengths.append(length)
        }
    }

    private static let emptyHeader = [UInt8](repeating: 0, count: headerSize)

    public var count: Int { alerts.count }
    public var isEmpty: Bool { alerts.isEmpty }
    /// What the records take on disk.
    public var byteCount: Int { bytes.count }

}
