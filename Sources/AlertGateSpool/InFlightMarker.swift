import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The sequences a queue's dispatcher is formatting and sending right now, kept in a small
/// file (`inflight`) so that the next start knows what the gateway was doing if it died:
/// a record that kills the process every time it is sent must not crash-loop the gateway
/// (see `InFlight`). Cleared whenever nothing is in flight.
///
/// Not fsynced, like the cursor: it guards against the process dying, whose writes the
/// kernel keeps; after a power loss a stale marker only makes a few alerts go one by one.
final class InFlightMarker {
    private static let size = 24
    private let path: String
    private let descriptor: Int32
    private var cleared: Bool

    /// The marker the previous run left, if it died with something in flight.
    let left: SpoolQueue.InFlight?

    init(directory: URL) throws(SpoolFileError) {
        path = directory.appendingPathComponent(SpoolQueue.inFlightFile).path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SpoolFileError(operation: "open \(path)") }
        self.descriptor = descriptor
        var bytes = [UInt8](repeating: 0, count: Self.size)
        let read = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress!, $0.count, 0) }
        if read == Self.size, CRC32.checksum(bytes[0..<20]) == SpoolQueue.uint32(bytes, 20) {
            let first = UInt64(SpoolQueue.uint32(bytes, 0)) | UInt64(SpoolQueue.uint32(bytes, 4)) << 32
            let last = UInt64(SpoolQueue.uint32(bytes, 8)) | UInt64(SpoolQueue.uint32(bytes, 12)) << 32
            let crashes = Int(SpoolQueue.uint32(bytes, 16))
            left = first >= 1 && first <= last ? SpoolQueue.InFlight(first: first, last: last, crashes: crashes) : nil
        } else {
            left = nil
        }
        cleared = read <= 0
    }

    deinit {
        close(descriptor)
    }

    func store(_ marker: SpoolQueue.InFlight?) throws(SpoolFileError) {
        guard let marker else {
            if !cleared {
                guard ftruncate(descriptor, 0) == 0 else { throw SpoolFileError(operation: "truncate \(path)") }
                cleared = true
            }
            return
        }
        var bytes: [UInt8] = []
        withUnsafeBytes(of: marker.first.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: marker.last.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(clamping: marker.crashes).littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: CRC32.checksum(bytes).littleEndian) { bytes.append(contentsOf: $0) }
        let written = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress!, $0.count, 0) }
        guard written == bytes.count else { throw SpoolFileError(operation: "write \(path)") }
        cleared = false
    }
}
