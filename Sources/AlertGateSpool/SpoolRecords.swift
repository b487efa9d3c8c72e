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
        var payload: [UInt8] = []
        payload.reserveCapacity(512)
        for alert in alerts {
            payload.removeAll(keepingCapacity: true)
            AlertCoding.encode(alert, into: &payload)
            Self.appendRecord(payload, to: &bytes)
            lengths.append(payload.count)
        }
    }

    public var count: Int { alerts.count }
    public var isEmpty: Bool { alerts.isEmpty }
    /// What the records take on disk.
    public var byteCount: Int { bytes.count }

    static func appendRecord(_ payload: [UInt8], to bytes: inout [UInt8]) {
        withUnsafeBytes(of: UInt32(payload.count).littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: CRC32.checksum(payload).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: payload)
    }
}
