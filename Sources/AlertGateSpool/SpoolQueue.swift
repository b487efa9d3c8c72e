import AlertGateCore
import Dispatch
import Foundation

/// The durable queue of one (partner, appliance) link: an append-only log of checksummed
/// records in segment files, and a cursor of what the partner accepted.
///
/// An alert is acknowledged to its sender only once its record is on disk (`fdatasync`),
/// and leaves the queue only once the partner accepted it (`acknowledge(through:)`), so a
/// crash or `kill -9` may repeat an alert that was in flight, never lose one. Batches that
/// arrive while a write is on its way share the next one: one fsync for many alerts
/// (group commit). Writes and fsyncs run on the queue's own I/O thread, never on Swift
/// concurrency's few threads, which the listeners and senders need meanwhile.
///
/// Recently appended alerts are also kept in memory (up to `memoryLimit` bytes of
/// records), so a partner that keeps up is fed without reading the disk back; a backlog
/// beyond that is read from the segment files.
///
/// On open, each segment is read back (`SpoolRecovery`): a torn tail or a record whose
/// checksum fails is skipped, the valid records after it are kept, and `recovery` says
/// what was lost and where.
public actor SpoolQueue {
    public struct Entry: Sendable {
        public var sequence: UInt64
        public var alert: Alert
    }

    /// Records a dispatcher was sending when the process died (`markInFlight`), and how
    /// many runs in a row died with them in flight before.
    public struct InFlight: Sendable, Hashable {
        public var first: UInt64
        public var last: UInt64
        public var crashes: Int

        public init(first: UInt64, last: UInt64, crashes: Int) {
            self.first = first
            self.last = last
            self.crashes = crashes
        }
    }

    /// Where a record is on disk: small, one per unacknowledged alert (a backlog of
    /// millions must not hold their alerts in memory).
    struct Location {
        var segment: UInt64
        var offset: Int
        /// The payload's length.
        var length: Int
    }

    /// A recently appended alert kept in memory, while the memory limit allows.
    private struct Cached {
        var sequence: UInt64
        var alert: Alert
        var length: Int
    }

    private struct PendingBatch {
        var records: SpoolRecords
        var continuation: CheckedContinuation<ClosedRange<UInt64>, any Error>
    }

    public nonisolated let name: String
    /// Whose share of the budget the queue's bytes count against.
    public nonisolated let appliance: String
    private let directory: URL
    private let segmentSize: Int
    private let memoryLimit: Int
    private let budget: SpoolBudget
    private let io: DispatchQueue
    private let cursor: SpoolCursor
    private let inFlight: InFlightMarker
    private var segments: [UInt64: SegmentFile] = [:]
    private var segmentSizes: [UInt64: Int] = [:]
    private var current: SegmentFile?
    /// Unacknowledged records: `index[indexStart]` holds sequence `acknowledged + 1`.
    private var index: [Location] = []
    private var indexStart = 0
    private var nextSequence: UInt64
    /// In sequence order; `cache[cacheHead...]` are the live ones.
    private var cache: [Cached] = []
    private var cacheHead = 0
    private var cachedBytes = 0
    private var pending: [PendingBatch] = []
    private var flushing = false
    private var entryWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextWaiter = 0

    /// What opening the queue found damaged, ignored or corrected, for the log.
    public nonisolated let recovery: SpoolRecoveryReport
    /// What the previous run was sending when it died (nil after a clean stop, or when
    /// recovery numbered the records again).
    public nonisolated let leftInFlight: InFlight?

    /// Files of the queue's folder besides its segments.
    static let cursorFile = "cursor"
    static let inFlightFile = "inflight"

    /// The sequence up to which the partner accepted everything.
    public var acknowledged: UInt64 { cursor.sequence }

    /// Opens (creating if needed) the queue in `directory`, recovering what a crash left;
    /// the bytes already on disk count against `budget`.
    public init(
        name: String, directory: URL, budget: SpoolBudget, appliance: String = "", segmentSize: Int = 64 << 20, memoryLimit: Int = 2 << 20
    ) throws(SpoolError) {
        self.name = name
        self.appliance = appliance
        self.directory = directory
        self.budget = budget
        self.segmentSize = segmentSize
        self.memoryLimit = memoryLimit
        io = DispatchQueue(label: "alertgate.spool.\(name)")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw .io(queue: name, operation: "create \(directory.path)", reason: "\(error.localizedDescription)")
        }
        do {
            cursor = try SpoolCursor(directory: directory)
            let recovered = try SpoolRecovery.recover(directory, cursor: cursor, otherFiles: [Self.cursorFile, Self.inFlightFile])
            segments = recovered.segments
            segmentSizes = recovered.sizes
            current = recovered.segments.max { $0.key < $1.key }?.value
            index = recovered.index
            recovery = recovered.report
            inFlight = try InFlightMarker(directory: directory)
            leftInFlight = recovered.renumbered ? nil : inFlight.left
            nextSequence = recovered.nextSequence
            budget.add(recovered.sizes.values.reduce(0, +), appliance: appliance)
        } catch {
            throw .io(queue: name, operation: error.operation, reason: error.reason)
        }
    }

    /// A queue with a quota of its own.
    public init(name: String, directory: URL, quota: Int, segmentSize: Int = 64 << 20) throws(SpoolError) {
        try self.init(name: name, directory: directory, budget: SpoolBudget(quota: quota), segmentSize: segmentSize)
    }

    /// Alerts waiting for the partner.
    public var depth: Int {
        index.count - indexStart
    }

    /// Bytes of this queue's segment files.
    public var usedBytes: Int {
        segmentSizes.values.reduce(0, +)
    }

    /// The sequence of the newest record on disk (0 when the queue never held one).
    public var lastSequence: UInt64 {
        nextSequence - 1
    }

    // MARK: Append

    /// Stores `alerts` durably; returns their sequence numbers once they are on disk.
    @discardableResult
    public func append(_ alerts: [Alert]) async throws(SpoolError) -> ClosedRange<UInt64>? {
        let records = SpoolRecords(alerts)
        guard !records.isEmpty else { return nil }
        switch budget.reserve([appliance: records.byteCount]) {
        case nil:
            break
        case .spool:
            throw .full(queue: name, used: budget.usedBytes, quota: budget.quota)
        case .appliance(let appliance):
            throw .full(queue: "\(name) (appliance \(appliance))", used: budget.usedBytes(appliance: appliance), quota: budget.applianceQuota)
        }
        return try await commit(records)
    }

    /// Writes records whose bytes the caller already reserved in the budget (see
    /// `Spool.append`); on failure the reservation is given back.
    func commit(_ records: SpoolRecords) async throws(SpoolError) -> ClosedRange<UInt64> {
        do {
            return try await withCheckedThrowingContinuation { continuation in
                pending.append(PendingBatch(records: records, continuation: continuation))
                if !flushing {
                    flushing = true
                    Task { await self.flush() }
                }
            }
        } catch let error as SpoolError {
            throw error
        } catch {
            throw .io(queue: name, operation: "append", reason: "\(error)")
        }
    }

    /// Writes everything pending with one fsync, then wakes its appenders; repeats while
    /// more arrived meanwhile. Sequence numbers are given only to what reached the disk,
    /// so a failed write leaves no gap.
    private func flush() async {
        while !pending.isEmpty {
            let batches = pending
            pending = []
            var bytes: [UInt8] = []
            bytes.reserveCapacity(batches.reduce(0) { $0 + $1.records.byteCount })
            for batch in batches {
                bytes += batch.records.bytes
            }
            do {
                let segment = try segmentForAppend()
                let offset = segmentSizes[segment.firstSequence] ?? 0
                let write = bytes
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    io.async {
                        do {
                            try segment.write(write, at: offset)
                            try segment.sync()
                            continuation.resume()
                        } catch {
                            continuation.resume(throwing: error)
                        }
                    }
                }
                segmentSizes[segment.firstSequence] = offset + bytes.count
                var recordOffset = offset
                for batch in batches {
                    let first = nextSequence
                    var sequence = first
                    for (alert, length) in zip(batch.records.alerts, batch.records.lengths) {
                        if cachedBytes + length <= memoryLimit {
                            cachedBytes += length
                            cache.append(Cached(sequence: sequence, alert: alert, length: length))
                        }
                        index.append(Location(segment: segment.firstSequence, offset: recordOffset, length: length))
                        recordOffset += SpoolRecords.headerSize + length
                        sequence += 1
                    }
                    nextSequence += UInt64(batch.records.count)
                    batch.continuation.resume(returning: first...(nextSequence - 1))
                }
                wakeEntryWaiters()
            } catch {
                budget.release(bytes.count, appliance: appliance)
                let failure: SpoolError
                if let error = error as? SpoolFileError {
                    failure = .io(queue: name, operation: error.operation, reason: error.reason)
                } else {
                    failure = .io(queue: name, operation: "append", reason: "\(error)")
                }
                batches.forEach { $0.continuation.resume(throwing: failure) }
            }
        }
        flushing = false
    }

    /// The segment to write into: the current one until it is full, then a new one named
    /// after the first sequence it will hold.
    private func segmentForAppend() throws(SpoolFileError) -> SegmentFile {
        if let current, segmentSizes[current.firstSequence, default: 0] < segmentSize {
            return current
        }
        let first = nextSequence
        let segment = try SegmentFile(path: Self.segmentPath(directory, first), firstSequence: first, create: true)
        segments[first] = segment
        segmentSizes[first] = 0
        current = segment
        return segment
    }

    // MARK: Read and acknowledge

    /// Up to `limit` unacknowledged alerts after `sequence`, oldest first.
    public func entries(after sequence: UInt64 = 0, limit: Int) throws(SpoolError) -> [Entry] {
        let batch = try self.batch(after: sequence, limit: limit)
        return zip(batch.sequences, batch.alerts).map { Entry(sequence: $0, alert: $1) }
    }

    /// Up to `limit` unacknowledged alerts after `sequence`, oldest first, as one send's
    /// batch: the alerts in an array of their own (no copy on the way to the sender).
    public func batch(after sequence: UInt64 = 0, limit: Int) throws(SpoolError) -> SpoolBatch {
        let firstIndexed = cursor.sequence + 1
        var position = indexStart + Int(max(sequence + 1, firstIndexed) - firstIndexed)
        var result = SpoolBatch()
        result.reserveCapacity(min(limit, max(0, index.count - position)))
        // The first cached alert at or after the first position asked for.
        var cached = cacheLowerBound(firstIndexed + UInt64(position - indexStart))
        while position < index.count, result.count < limit {
            let location = index[position]
            let entrySequence = firstIndexed + UInt64(position - indexStart)
            if cached < cache.count, cache[cached].sequence == entrySequence {
                result.append(sequence: entrySequence, alert: cache[cached].alert)
                cached += 1
                position += 1
                continue
            }
            guard location.length >= 0, let segment = segments[location.segment] else {
                result.appendUnreadable(sequence: firstIndexed + UInt64(position - indexStart), record: [])
                position += 1
                continue
            }
            // A backlog beyond the memory limit: the run of records that follow on disk in
            // this segment is read with one pread, then decoded.
            var end = position + 1
            let nextCached = cached < cache.count ? cache[cached].sequence : UInt64.max
            while end < index.count, end - position < limit - result.count,
                firstIndexed + UInt64(end - indexStart) < nextCached,
                index[end].segment == location.segment, index[end].length >= 0
            {
                end += 1
            }
            let last = index[end - 1]
            let first = location.offset
            let bytes: [UInt8]
            do {
                bytes = try segment.read(offset: first, count: last.offset + SpoolRecords.headerSize + last.length - first)
            } catch {
                throw .io(queue: name, operation: error.operation, reason: error.reason)
            }
            for run in position..<end {
                let record = index[run]
                let start = record.offset - first + SpoolRecords.headerSize
                let payload = bytes[start..<(start + record.length)]
                if let alert = AlertCoding.decode(payload) {
                    result.append(sequence: firstIndexed + UInt64(run - indexStart), alert: alert)
                } else {
                    // A record this version cannot read: handed on as bytes, for the
                    // dead-letter file, never silently left behind the cursor.
                    result.appendUnreadable(sequence: firstIndexed + UInt64(run - indexStart), record: Array(payload))
                }
            }
            position = end
        }
        return result
    }

    /// The position in `cache` of the first live alert whose sequence is `sequence` or later.
    private func cacheLowerBound(_ sequence: UInt64) -> Int {
        var low = cacheHead
        var high = cache.count
        while low < high {
            let middle = (low + high) / 2
            if cache[middle].sequence < sequence { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Returns once the queue holds a record after `sequence` (at once if it already
    /// does), or when the task is cancelled.
    public func waitForEntries(after sequence: UInt64) async {
        guard lastSequence <= sequence else { return }
        let id = nextWaiter
        nextWaiter += 1
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled || lastSequence > sequence {
                    continuation.resume()
                } else {
                    entryWaiters[id] = continuation
                }
            }
        } onCancel: {
            Task { await self.wakeWaiter(id) }
        }
    }

    private func wakeWaiter(_ id: Int) {
        entryWaiters.removeValue(forKey: id)?.resume()
    }

    private func wakeEntryWaiters() {
        let waiters = entryWaiters
        entryWaiters = [:]
        waiters.values.forEach { $0.resume() }
    }

    /// The partner accepted everything up to `sequence`: it leaves the queue, and segment
    /// files that hold nothing else are deleted.
    public func acknowledge(through sequence: UInt64) throws(SpoolError) {
        let sequence = min(sequence, lastSequence)
        guard sequence > cursor.sequence else { return }
        let removed = Int(sequence - cursor.sequence)
        while cacheHead < cache.count, cache[cacheHead].sequence <= sequence {
            cachedBytes -= cache[cacheHead].length
            cacheHead += 1
        }
        if cacheHead > 1024, cacheHead * 2 > cache.count {
            cache.removeFirst(cacheHead)
            cacheHead = 0
        }
        indexStart += removed
        if indexStart > 4096, indexStart * 2 > index.count {
            index.removeFirst(indexStart)
            indexStart = 0
        }
        do {
            try cursor.store(sequence)
        } catch {
            throw .io(queue: name, operation: error.operation, reason: error.reason)
        }
        // Everything accepted: the current segment goes too, and the next append starts a
        // new one, so a quota smaller than a segment is freed as well.
        // (Not while a write to it is on its way.)
        if depth == 0, !flushing, let current {
            self.current = nil
            segments[current.firstSequence] = nil
            budget.release(segmentSizes.removeValue(forKey: current.firstSequence) ?? 0, appliance: appliance)
            try? FileManager.default.removeItem(atPath: Self.segmentPath(directory, current.firstSequence))
        }
        // A segment is done once the next one starts at or before the cursor's next record.
        let starts = segments.keys.sorted()
        for (position, start) in starts.enumerated() where position + 1 < starts.count {
            if starts[position + 1] <= sequence + 1, segments[start] !== current {
                segments[start] = nil
                budget.release(segmentSizes.removeValue(forKey: start) ?? 0, appliance: appliance)
                try? FileManager.default.removeItem(atPath: Self.segmentPath(directory, start))
            }
        }
    }

    /// Keeps what is being sent now on disk (nil: nothing), for the next start should the
    /// process die meanwhile.
    public func markInFlight(_ marker: InFlight?) throws(SpoolError) {
        do {
            try inFlight.store(marker)
        } catch {
            throw .io(queue: name, operation: error.operation, reason: error.reason)
        }
    }

    // MARK: Files

    static func uint32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    static func segmentPath(_ directory: URL, _ first: UInt64) -> String {
        directory.appendingPathComponent(String(format: "%020llu.seg", first)).path
    }
}
