import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The sequence number up to which a queue's partner accepted everything, kept in a small
/// file of two slots written in turn: a torn write spoils one slot, and the other still
/// holds the previous cursor. It is not fsynced: a cursor that lags after a power loss
/// only sends a few alerts twice (delivery is at least once), while an fsync per
/// acknowledgement would halve the throughput.
final class SpoolCursor {
    private static let slotSize = 16
    private let path: String
    private let descriptor: Int32
    private var writes = 0
    private(set) var sequence: UInt64

    init(directory: URL) throws(SpoolFileError) {
        path = directory.appendingPathComponent("cursor").path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SpoolFileError(operation: "open \(path)") }
        self.descriptor = descriptor
        var bytes = [UInt8](repeating: 0, count: 2 * Self.slotSize)
        let read = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress!, $0.count, 0) }
        var best: UInt64 = 0
        if read > 0 {
            for slot in 0..<(read / Self.slotSize) {
                let start = slot * Self.slotSize
                let value = bytes[start..<(start + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                let checksum = bytes[(start + 8)..<(start + 12)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                if CRC32.checksum(bytes[start..<(start + 8)]) == checksum {
                    best = max(best, value)
                }
            }
        }
        sequence = best
    }

    deinit {
        close(descriptor)
    }

    /// Sets the cursor to `value`, also back: both slots are written (the second only
    /// after the first), and reading takes the larger of the two, so a crash in between
    /// leaves the cursor as it was. Recovery uses it, before it renames any file.
    func reset(to value: UInt64) throws(SpoolFileError) {
        writes = 0
        try store(value)
        try store(value)
        guard fsync(descriptor) == 0 else { throw SpoolFileError(operation: "fsync \(path)") }
    }

    func store(_ value: UInt64) throws(SpoolFileError) {
        var slot: [UInt8] = []
        withUnsafeBytes(of: value.littleEndian) { slot.append(contentsOf: $0) }
        withUnsafeBytes(of: CRC32.checksum(slot).littleEndian) { slot.append(contentsOf: $0) }
        slot += [0, 0, 0, 0]
        let offset = (writes % 2) * Self.slotSize
        let written = slot.withUnsafeBytes { pwrite(descriptor, $0.baseAddress!, $0.count, off_t(offset)) }
        guard written == slot.count else { throw SpoolFileError(operation: "write \(path)") }
        writes += 1
        sequence = value
    }
}
