import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One open segment file of a spool queue: positional writes and reads, fsync.
///
/// Immutable, hence `Sendable`: its owner (the queue actor) keeps the size and decides
/// where each write goes, and the writes themselves run on the queue's I/O thread.
final class SegmentFile: Sendable {
    let path: String
    /// The sequence number of its first record (also its name).
    let firstSequence: UInt64
    private let descriptor: Int32

    init(path: String, firstSequence: UInt64, create: Bool) throws(SpoolFileError) {
        self.path = path
        self.firstSequence = firstSequence
        let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0)
        descriptor = open(path, flags, 0o600)
        guard descriptor >= 0 else { throw SpoolFileError(operation: "open \(path)") }
    }

    deinit {
        close(descriptor)
    }

    /// The file's length on disk.
    func length() throws(SpoolFileError) -> Int {
        let end = lseek(descriptor, 0, SEEK_END)
        guard end >= 0 else { throw SpoolFileError(operation: "seek \(path)") }
        return Int(end)
    }

    func write(_ bytes: [UInt8], at offset: Int) throws(SpoolFileError) {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                pwrite(descriptor, buffer.baseAddress! + written, buffer.count - written, off_t(offset + written))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw SpoolFileError(operation: "write \(path)")
            }
            written += result
        }
    }

    func sync() throws(SpoolFileError) {
        guard fdatasync(descriptor) == 0 else { throw SpoolFileError(operation: "fsync \(path)") }
    }

    func read(offset: Int, count: Int) throws(SpoolFileError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let result = bytes.withUnsafeMutableBytes { buffer in
                pread(descriptor, buffer.baseAddress! + done, count - done, off_t(offset + done))
            }
            if result < 0, errno == EINTR { continue }
            guard result > 0 else { throw SpoolFileError(operation: "read \(path)") }
            done += result
        }
        return bytes
    }

    /// Cuts a torn tail off (recovery after a crash mid-write).
    func truncate(to length: Int) throws(SpoolFileError) {
        guard ftruncate(descriptor, off_t(length)) == 0 else { throw SpoolFileError(operation: "truncate \(path)") }
    }
}

struct SpoolFileError: Error {
    var operation: String
    var reason: String

    init(operation: String) {
        self.operation = operation
        self.reason = String(cString: strerror(errno))
    }

    init(operation: String, reason: String) {
        self.operation = operation
        self.reason = reason
    }
}
