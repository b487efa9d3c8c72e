import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Opens a queue's folder as a crash or a damaged disk left it (docs/reference.md §11), keeping every
/// valid record: a record whose checksum fails is skipped and the records after it are
/// kept, the damaged file is copied aside into `damaged/` and rewritten without the bad
/// bytes, and what was lost is reported (`SpoolRecoveryReport`).
///
/// A record's sequence number is its position in the log, and damage can hide how many
/// records a range held. The records kept are therefore numbered again, one after
/// another, from the first; the cursor is mapped onto the new numbers so that a record
/// counts as accepted only when its old number is known and was accepted. Where that is
/// not known (after damage in the last file, say), the record is sent again: a
/// duplicate rather than a loss. The cursor is written before files are renamed, and
/// only ever to a number no later than what it stood for, so a crash during recovery
/// resends, never skips.
enum SpoolRecovery {
    struct Result {
        var segments: [UInt64: SegmentFile] = [:]
        var sizes: [UInt64: Int] = [:]
        var index: [SpoolQueue.Location] = []
        var nextSequence: UInt64 = 1
        var report = SpoolRecoveryReport()
        /// Records were numbered again: sequences kept from before (the in-flight marker)
        /// no longer name the same records.
        var renumbered = false
    }

    /// No queue reaches this many records (2^62: 146,000 years at a million a second); a
    /// larger cursor or file name is damage, and sequence arithmetic never overflows.
    static let sequenceLimit: UInt64 = 1 << 62
    /// The smallest record on disk: a header and one byte.
    private static let smallestRecord = SpoolRecords.headerSize + 1
    static let damagedFolder = "damaged"

    private struct Found {
        var name: String
        var start: UInt64
        var scan: SegmentScan
        var size: Int
        var damaged: Bool { !scan.damages.isEmpty }
    }

    private struct Present {
        var segment: Int
        var offset: Int
        var length: Int
        /// Its sequence as the file names tell, nil where damage hides it.
        var known: UInt64?
        var newOffset = 0
    }

    static func recover(_ directory: URL, cursor: SpoolCursor, otherFiles: Set<String>) throws(SpoolFileError) -> Result {
        var result = Result()
        let found = try readSegments(directory, otherFiles: otherFiles, report: &result.report)
        if let intact = try intact(directory, found, cursor: cursor.sequence, report: result.report) {
            return intact
        }
        var present: [Present] = []
        var lastKnown: UInt64 = 0
        var expected: UInt64?
        for (position, segment) in found.enumerated() {
            var next: UInt64? = segment.start < sequenceLimit && segment.start > lastKnown ? segment.start : nil
            if next == nil {
                result.report.warnings.append("\(directory.appendingPathComponent(segment.name).path): its name does not follow the records before it; its records are numbered again and sent again")
            } else if let expected, segment.start > expected, segment.start - 1 > cursor.sequence {
                result.report.warnings.append("\(directory.appendingPathComponent(segment.name).path): records \(max(expected, cursor.sequence + 1))…\(segment.start - 1) before it are missing (no file holds them)")
            }
            var firstDamaged: UInt64?
            var damages = 0
            var afterLastDamage: [Int] = []
            for item in segment.scan.items {
                switch item {
                case .record(let offset, let length):
                    present.append(Present(segment: position, offset: offset, length: length, known: next))
                    next = next.map { $0 + 1 }
                    if damages > 0 { afterLastDamage.append(present.count - 1) }
                case .damage:
                    if damages == 0 { firstDamaged = next }
                    damages += 1
                    afterLastDamage = []
                    next = nil
                }
            }
            // The records after the last damage end where the next file starts: counted back
            // from its name, their numbers are known again.
            var lost: Int?
            if damages > 0, position + 1 < found.count, let first = firstDamaged {
                let end = found[position + 1].start
                let kept = present.lazy.filter { $0.segment == position && $0.known == nil }.count
                let after = UInt64(afterLastDamage.count)
                if end < sequenceLimit, end >= first + UInt64(kept) + UInt64(damages) {
                    for (offset, index) in afterLastDamage.enumerated() {
                        present[index].known = end - after + UInt64(offset)
                    }
                    if damages == 1 { lost = Int(end - after - first) }
                }
            }
            lastKnown = max(lastKnown, present.last(where: { $0.segment == position })?.known ?? 0, next.map { $0 - 1 } ?? 0)
            expected = next
            for damage in segment.scan.damages {
                result.report.damages.append(.init(file: directory.appendingPathComponent(segment.name).path, bytes: damage.range, recordsLost: damages == 1 ? lost : nil, torn: damage.torn))
            }
        }

        // The cursor, mapped onto the records kept.
        let stored = cursor.sequence
        let firstStart = present.first.map { found[$0.segment].start }
        let base: UInt64 =
            present.first?.known ?? firstStart.flatMap { $0 >= 1 && $0 < sequenceLimit ? $0 : nil } ?? (stored < sequenceLimit ? stored + 1 : 1)
        var acknowledged: UInt64
        if present.isEmpty {
            acknowledged = stored
            if stored >= sequenceLimit {
                result.report.warnings.append("\(directory.appendingPathComponent("cursor").path): \(stored) is beyond any sequence the queue can have reached; set back to 0")
                acknowledged = 0
            }
        } else {
            let totalBytes = found.reduce(0) { $0 + $1.size }
            let undamaged = !found.contains(where: \.damaged) && present.allSatisfy { $0.known != nil }
            let end = undamaged ? present.last!.known! : base + UInt64(totalBytes / smallestRecord)
            if stored >= sequenceLimit || stored > end {
                result.report.warnings.append("\(directory.appendingPathComponent("cursor").path): \(stored) is beyond the end of the log (\(end)); set back to before its first record, whose alerts are sent again")
                acknowledged = base - 1
            } else {
                if let first = present.first?.known, stored + 1 < first {
                    result.report.warnings.append("\(directory.appendingPathComponent("cursor").path): \(stored) is before the start of the log (\(first)); the records in between are missing")
                }
                let accepted = present.prefix { $0.known.map { $0 <= stored } ?? false }.count
                acknowledged = base + UInt64(accepted) - 1
            }
        }
        if acknowledged != stored {
            try cursor.reset(to: acknowledged)
        }

        try rewriteDamaged(directory, found, &present, report: &result.report)
        var starts: [Int: UInt64] = [:]
        for (number, record) in present.enumerated() where starts[record.segment] == nil {
            starts[record.segment] = base + UInt64(number)
        }
        result.renumbered = found.contains(where: \.damaged) || starts.contains { found[$0.key].start != $0.value }
        // A file that keeps no record (one a crash left empty, or nothing valid left in it)
        // goes now: left under its old name, it would stand in the way of the segment the
        // renumbered log creates under that name later (created exclusively, so every
        // append to this queue would fail).
        for (segment, file) in found.enumerated() where starts[segment] == nil {
            unlink(directory.appendingPathComponent(file.name).path)
        }
        try renumber(directory, found, starts)

        // Open what is kept under its new name; files that hold only accepted records go.
        let kept = starts.sorted { $0.value < $1.value }
        for (position, (_, start)) in kept.enumerated() {
            let path = SpoolQueue.segmentPath(directory, start)
            let nextStart = position + 1 < kept.count ? kept[position + 1].value : UInt64.max
            if nextStart <= acknowledged + 1 {
                unlink(path)
                continue
            }
            let file = try SegmentFile(path: path, firstSequence: start, create: false)
            result.segments[start] = file
            result.sizes[start] = try file.length()
        }
        for (number, record) in present.enumerated() {
            let sequence = base + UInt64(number)
            guard sequence > acknowledged, let start = starts[record.segment] else { continue }
            result.index.append(.init(segment: start, offset: record.newOffset, length: record.length))
        }
        result.nextSequence = present.isEmpty ? acknowledged + 1 : base + UInt64(present.count)
        return result
    }

    /// The usual case, without the bookkeeping numbering again needs (a backlog of
    /// millions of records is opened with no more than its index): every file whole, each
    /// named where the one before ends, the cursor within the log. Nil otherwise.
    private static func intact(_ directory: URL, _ found: [Found], cursor: UInt64, report: SpoolRecoveryReport) throws(SpoolFileError) -> Result? {
        guard cursor < sequenceLimit else { return nil }
        var expected = found.first?.start ?? cursor + 1
        guard expected >= 1, expected <= cursor + 1 || found.isEmpty else { return nil }
        for segment in found {
            guard !segment.damaged, segment.start == expected, segment.start < sequenceLimit else { return nil }
            expected += UInt64(segment.scan.items.count)
        }
        guard found.isEmpty || cursor < expected else { return nil }
        var result = Result(nextSequence: found.isEmpty ? cursor + 1 : expected, report: report)
        for (position, segment) in found.enumerated() {
            let path = directory.appendingPathComponent(segment.name).path
            // Files that hold only accepted records go (not the last: appends go on in it).
            if position + 1 < found.count, found[position + 1].start <= cursor + 1 {
                unlink(path)
                continue
            }
            let file = try SegmentFile(path: path, firstSequence: segment.start, create: false)
            result.segments[segment.start] = file
            result.sizes[segment.start] = segment.size
            for (number, record) in segment.scan.records.enumerated() where segment.start + UInt64(number) > cursor {
                result.index.append(.init(segment: segment.start, offset: record.offset, length: record.length))
            }
        }
        return result
    }

    // MARK: Steps

    /// The segment files in order of their names, read and scanned; anything else in the
    /// folder is left alone with a warning (a leftover of an interrupted rewrite is removed).
    private static func readSegments(_ directory: URL, otherFiles: Set<String>, report: inout SpoolRecoveryReport) throws(SpoolFileError) -> [Found] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
        var segments: [(String, UInt64)] = []
        for name in names where !otherFiles.contains(name) && name != damagedFolder {
            let path = directory.appendingPathComponent(name).path
            if name.hasSuffix(".seg.rewrite"), segmentStart(String(name.dropLast(8))) != nil {
                unlink(path)  // the original is still there: the rewrite never replaced it
                continue
            }
            guard let start = segmentStart(name) else {
                report.warnings.append("\(path): not a file of the spool; ignored")
                continue
            }
            var status = stat()
            guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
                report.warnings.append("\(path): not a regular file; ignored")
                continue
            }
            segments.append((name, start))
        }
        var found: [Found] = []
        for (name, start) in segments.sorted(by: { $0.1 < $1.1 }) {
            let file = try SegmentFile(path: directory.appendingPathComponent(name).path, firstSequence: start, create: false)
            let length = try file.length()
            let bytes = length > 0 ? try file.read(offset: 0, count: length) : []
            found.append(Found(name: name, start: start, scan: SegmentScan(bytes), size: length))
        }
        return found
    }

    /// The start of a segment named `NNNNNNNNNNNNNNNNNNNN.seg` (20 digits), else nil.
    static func segmentStart(_ name: String) -> UInt64? {
        let utf8 = Array(name.utf8)
        guard utf8.count == 24, name.hasSuffix(".seg"), utf8[0..<20].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return UInt64(name.prefix(20))
    }

    /// Copies each damaged file aside and rewrites it with its valid records only (a new
    /// file renamed over it); sets each record's offset in its file as it is now.
    private static func rewriteDamaged(_ directory: URL, _ found: [Found], _ present: inout [Present], report: inout SpoolRecoveryReport) throws(SpoolFileError) {
        for (position, segment) in found.enumerated() {
            let records = present.indices.filter { present[$0].segment == position }
            guard segment.damaged else {
                for index in records { present[index].newOffset = present[index].offset }
                continue
            }
            let path = directory.appendingPathComponent(segment.name).path
            let copy = copyAside(directory, segment.name)
            for index in report.damages.indices where report.damages[index].file == path {
                report.damages[index].copy = copy
            }
            guard !records.isEmpty else {
                unlink(path)
                continue
            }
            let original = try SegmentFile(path: path, firstSequence: segment.start, create: false)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(records.reduce(0) { $0 + SpoolRecords.headerSize + present[$1].length })
            for index in records {
                present[index].newOffset = bytes.count
                bytes += try original.read(offset: present[index].offset, count: SpoolRecords.headerSize + present[index].length)
            }
            let temporary = path + ".rewrite"
            unlink(temporary)
            let rewritten = try SegmentFile(path: temporary, firstSequence: segment.start, create: true)
            try rewritten.write(bytes, at: 0)
            try rewritten.sync()
            guard rename(temporary, path) == 0 else { throw SpoolFileError(operation: "rename \(temporary) to \(path)") }
        }
    }

    /// A copy of a damaged file in `damaged/`, for an operator to look at; its path, or nil.
    private static func copyAside(_ directory: URL, _ name: String) -> String? {
        let folder = directory.appendingPathComponent(damagedFolder)
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let stamp = Int(Date().timeIntervalSince1970)
        var target = folder.appendingPathComponent("\(name).\(stamp)")
        var attempt = 1
        while FileManager.default.fileExists(atPath: target.path) {
            attempt += 1
            target = folder.appendingPathComponent("\(name).\(stamp)-\(attempt)")
        }
        do {
            try FileManager.default.copyItem(atPath: directory.appendingPathComponent(name).path, toPath: target.path)
            return target.path
        } catch {
            return nil
        }
    }

    /// Gives each kept file the name of its first record's new number: those that move
    /// down first, lowest first, then those that move up, highest first, so that no name
    /// is ever taken twice.
    private static func renumber(_ directory: URL, _ found: [Found], _ starts: [Int: UInt64]) throws(SpoolFileError) {
        let moves = starts.sorted { $0.key < $1.key }.filter { found[$0.key].start != $0.value }
        let down = moves.filter { $0.value < found[$0.key].start }
        let up = moves.filter { $0.value > found[$0.key].start }.reversed()
        for (segment, start) in down + up {
            let from = directory.appendingPathComponent(found[segment].name).path
            let to = SpoolQueue.segmentPath(directory, start)
            guard rename(from, to) == 0 else { throw SpoolFileError(operation: "rename \(from) to \(to)") }
        }
    }
}
