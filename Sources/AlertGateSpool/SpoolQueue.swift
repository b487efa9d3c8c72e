import AlertGateCore
import Foundation

/// The durable queue of one partner: an append-only log of checksummed records in
/// segment files, and a cursor of what the partner accepted.
///
/// An alert is acknowledged to its sender only once its record is on disk (`fdatasync`),
/// and leaves the queue only once the partner accepted it (`acknowledge(through:)`), so a
/// crash or `kill -9` may repeat an alert that was in flight, never lose one. Appends that
/// arrive while a write is on its way share the next one: one fsync for many alerts
/// (group commit).
///
/// Record: `u32 length | u32 crc32(sequence ‖ payload) | u64 sequence | payload`, little
/// endian. On open, each segment is read back and cut at the first record whose checksum
/// fails — the torn tail of a write the crash interrupted, which was never acknowledged.
public actor SpoolQueue {
    public struct Entry: Sendable {
        public var sequence: UInt64
        public var alert: Alert
    }

    private struct Location {
        var sequence: UInt64
        var segment: UInt64
        var offset: Int
        var length: Int
    }

    static let headerSize = 16

    public nonisolated let name: String
    private let directory: URL
    private let segmentSize: Int
    private let quota: Int
    private var segments: [UInt64: SegmentFile] = [:]
    private var current: SegmentFile?
    /// Unacknowledged records, in sequence order.
    private var index: [Location] = []
    private var indexStart = 0
    private var nextSequence: UInt64 = 1
    public private(set) var acknowledged: UInt64 = 0
    private var pending: [UInt8] = []
    private var pendingLocations: [Location] = []
    private var waiters: [CheckedContinuation<Void, any Error>] = []
    private var flushing = false

    /// Opens (creating if needed) the queue in `directory`, recovering what a crash left.
    /// - Parameters:
    ///   - quota: the most bytes its segment files may hold.
    public init(name: String, directory: URL, quota: Int, segmentSize: Int = 64 << 20) throws(SpoolError) {
        self.name = name
        self.directory = directory
        self.quota = quota
        self.segmentSize = segmentSize
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw .io(queue: name, operation: "create \(directory.path)", reason: "\(error.localizedDescription)")
        }
        let cursor = Self.readCursor(in: directory)
        acknowledged = cursor
        do {
            let recovered = try Self.recover(directory, acknowledged: cursor)
            segments = recovered.segments
            current = recovered.current
            index = recovered.index
            nextSequence = recovered.nextSequence
        } catch {
            throw .io(queue: name, operation: error.operation, reason: error.reason)
        }
    }

    /// Alerts waiting for the partner.
    public var depth: Int {
        index.count - indexStart
    }

    /// Bytes on disk.
    public var usedBytes: Int {
        segments.values.reduce(0) { $0 + $1.size }
    }

    // MARK: Append

    /// Stores `alerts` durably; returns once they are on disk.
    @discardableResult
    public func append(_ alerts: [Alert]) async throws(SpoolError) -> ClosedRange<UInt64>? {
        guard !alerts.isEmpty else { return nil }
        var records: [UInt8] = []
        var locations: [Location] = []
        let first = nextSequence
        var payload: [UInt8] = []
        for alert in alerts {
            payload.removeAll(keepingCapacity: true)
            AlertCoding.encode(alert, into: &payload)
            let sequence = nextSequence
            nextSequence += 1
            locations.append(Location(sequence: sequence, segment: 0, offset: pending.count + records.count, length: payload.count))
            Self.appendRecord(sequence: sequence, payload: payload, to: &records)
        }
        let used = usedBytes + pending.count + records.count
        guard used <= quota else {
            nextSequence = first
            throw .full(queue: name, used: usedBytes + pending.count, quota: quota)
        }
        pending += records
        pendingLocations += locations
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                waiters.append(continuation)
                if !flushing {
                    flushing = true
                    Task { self.flush() }
                }
            }
        } catch let error as SpoolError {
            throw error
        } catch {
            throw .io(queue: name, operation: "append", reason: "\(error)")
        }
        return first...(first + UInt64(alerts.count) - 1)
    }

    /// Writes everything pending, one fsync, and wakes the appenders; repeats while more
    /// arrived meanwhile.
    private func flush() {
        while !pending.isEmpty {
            let bytes = pending
            var locations = pendingLocations
            let woken = waiters
            pending = []
            pendingLocations = []
            waiters = []
            do {
                let segment = try segmentForAppend(startingAt: locations[0].sequence)
                let base = segment.size
                try segment.append(bytes)
                try segment.sync()
                for position in locations.indices {
                    locations[position].segment = segment.firstSequence
                    locations[position].offset += base
                }
                index += locations
                woken.forEach { $0.resume() }
            } catch {
                let failure = SpoolError.io(queue: name, operation: error.operation, reason: error.reason)
                woken.forEach { $0.resume(throwing: failure) }
            }
        }
        flushing = false
    }

    /// The segment to write into: the current one until it is full, then a new one named
    /// after the first sequence it will hold.
    private func segmentForAppend(startingAt first: UInt64) throws(SpoolFileError) -> SegmentFile {
        if let current, current.size < segmentSize {
            return current
        }
        let segment = try SegmentFile(path: Self.segmentPath(directory, first), firstSequence: first, create: true)
        segments[first] = segment
        current = segment
        return segment
    }

    // MARK: Read and acknowledge

    /// Up to `limit` unacknowledged alerts after `sequence`, oldest first.
    public func entries(after sequence: UInt64 = 0, limit: Int) throws(SpoolError) -> [Entry] {
        var result: [Entry] = []
        var position = indexStart
        while position < index.count, index[position].sequence <= sequence {
            position += 1
        }
        while position < index.count, result.count < limit {
            let location = index[position]
            position += 1
            guard let segment = segments[location.segment] else { continue }
            do {
                let bytes = try segment.read(offset: location.offset + Self.headerSize, count: location.length)
                if let alert = AlertCoding.decode(bytes[...]) {
                    result.append(Entry(sequence: location.sequence, alert: alert))
                }
            } catch {
                throw .io(queue: name, operation: error.operation, reason: error.reason)
            }
        }
        return result
    }

    /// The partner accepted everything up to `sequence`: it leaves the queue, and segment
    /// files that hold nothing else are deleted.
    public func acknowledge(through sequence: UInt64) throws(SpoolError) {
        guard sequence > acknowledged else { return }
        acknowledged = sequence
        while indexStart < index.count, index[indexStart].sequence <= sequence {
            indexStart += 1
        }
        if indexStart > 4096, indexStart * 2 > index.count {
            index.removeFirst(indexStart)
            indexStart = 0
        }
        do {
            try Self.writeCursor(sequence, in: directory)
        } catch {
            throw .io(queue: name, operation: "write the cursor", reason: "\(error)")
        }
        // A segment is done once the next one starts at or before the cursor.
        let starts = segments.keys.sorted()
        for (position, start) in starts.enumerated() where position + 1 < starts.count {
            if starts[position + 1] <= sequence + 1, segments[start] !== current {
                segments[start] = nil
                try? FileManager.default.removeItem(atPath: Self.segmentPath(directory, start))
            }
        }
    }

    // MARK: Recovery

    private struct Recovered {
        var segments: [UInt64: SegmentFile] = [:]
        var current: SegmentFile?
        var index: [Location] = []
        var nextSequence: UInt64
    }

    private static func recover(_ directory: URL, acknowledged: UInt64) throws(SpoolFileError) -> Recovered {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let starts = names.compactMap { $0.hasSuffix(".seg") ? UInt64($0.dropLast(4)) : nil }.sorted()
        var recovered = Recovered(nextSequence: acknowledged + 1)
        var highest = acknowledged
        for start in starts {
            let segment = try SegmentFile(path: segmentPath(directory, start), firstSequence: start, create: false)
            recovered.segments[start] = segment
            recovered.current = segment
            var offset = 0
            let bytes = segment.size > 0 ? try segment.read(offset: 0, count: segment.size) : []
            while offset + headerSize <= bytes.count {
                let length = Int(uint32(bytes, offset))
                let checksum = uint32(bytes, offset + 4)
                let end = offset + headerSize + length
                guard end <= bytes.count,
                    bytes[(offset + 8)..<end].withUnsafeBytes({ CRC32.checksum($0) }) == checksum
                else { break }
                let sequence = uint64(bytes, offset + 8)
                if sequence > acknowledged {
                    recovered.index.append(Location(sequence: sequence, segment: start, offset: offset, length: length))
                }
                highest = max(highest, sequence)
                offset = end
            }
            if offset < bytes.count {
                try segment.truncate(to: offset)  // the torn tail of an interrupted write
            }
        }
        recovered.nextSequence = highest + 1
        return recovered
    }

    // MARK: Encoding

    static func appendRecord(sequence: UInt64, payload: [UInt8], to bytes: inout [UInt8]) {
        var body: [UInt8] = []
        body.reserveCapacity(8 + payload.count)
        withUnsafeBytes(of: sequence.littleEndian) { body.append(contentsOf: $0) }
        body.append(contentsOf: payload)
        withUnsafeBytes(of: UInt32(payload.count).littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: CRC32.checksum(body).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: body)
    }

    static func uint32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    static func uint64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    static func segmentPath(_ directory: URL, _ first: UInt64) -> String {
        directory.appendingPathComponent(String(format: "%020llu.seg", first)).path
    }

    /// The cursor: 8 bytes of sequence and their CRC, replaced atomically.
    static func writeCursor(_ sequence: UInt64, in directory: URL) throws {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: sequence.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: CRC32.checksum(bytes).littleEndian) { bytes.append(contentsOf: $0) }
        try Data(bytes).write(to: directory.appendingPathComponent("acknowledged"), options: .atomic)
    }

    static func readCursor(in directory: URL) -> UInt64 {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("acknowledged")), data.count == 12 else { return 0 }
        let bytes = Array(data)
        guard CRC32.checksum(Array(bytes[0..<8])) == uint32(bytes, 8) else { return 0 }
        return uint64(bytes, 0)
    }
}
