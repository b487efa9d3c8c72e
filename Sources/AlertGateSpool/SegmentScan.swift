/// What a segment file's bytes hold: its valid records in order, and the byte ranges
/// between them that are not valid records (docs/reference.md §11: a record whose checksum fails is
/// skipped and the valid records after it are kept).
///
/// A pure value, made from the bytes alone. After a record that fails, the scan looks for
/// the next offset where a whole record starts again: a length that fits in the file, a
/// checksum that matches, and a payload the spool can decode (the last keeps a chance
/// match of a length and a CRC in damaged bytes from being taken for a record).
struct SegmentScan: Sendable, Hashable {
    enum Item: Sendable, Hashable {
        case record(offset: Int, length: Int)
        /// Bytes that hold no valid record. `torn`: at the end of the file, a header whose
        /// length runs past it, the shape of a write the crash interrupted.
        case damage(Range<Int>, torn: Bool)
    }

    private(set) var items: [Item] = []

    var records: [(offset: Int, length: Int)] {
        items.compactMap {
            if case .record(let offset, let length) = $0 { return (offset, length) }
            return nil
        }
    }

    var damages: [(range: Range<Int>, torn: Bool)] {
        items.compactMap {
            if case .damage(let range, let torn) = $0 { return (range, torn) }
            return nil
        }
    }

    init(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            if let length = Self.record(in: bytes, at: offset, decoding: false) {
                items.append(.record(offset: offset, length: length))
                offset += SpoolRecords.headerSize + length
                continue
            }
            var next = offset + 1
            while next < bytes.count, Self.record(in: bytes, at: next, decoding: true) == nil {
                next += 1
            }
            let torn = next == bytes.count && Self.runsPastEnd(bytes, at: offset)
            items.append(.damage(offset..<next, torn: torn))
            offset = next
        }
    }

    /// The payload length of a valid record at `offset`, or nil.
    private static func record(in bytes: [UInt8], at offset: Int, decoding: Bool) -> Int? {
        guard bytes.count - offset >= SpoolRecords.headerSize + 1 else { return nil }
        let length = Int(SpoolQueue.uint32(bytes, offset))
        let start = offset + SpoolRecords.headerSize
        guard length >= 1, length <= bytes.count - start else { return nil }
        guard CRC32.checksum(bytes[start..<(start + length)]) == SpoolQueue.uint32(bytes, offset + 4) else { return nil }
        if decoding, AlertCoding.decode(bytes[start..<(start + length)]) == nil { return nil }
        return length
    }

    /// Whether the bytes at `offset` are a header (or part of one) whose record would end
    /// past the file's end.
    private static func runsPastEnd(_ bytes: [UInt8], at offset: Int) -> Bool {
        guard bytes.count - offset >= SpoolRecords.headerSize else { return true }
        return Int(SpoolQueue.uint32(bytes, offset)) > bytes.count - offset - SpoolRecords.headerSize
    }
}
