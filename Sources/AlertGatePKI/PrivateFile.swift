import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A file written whole with a given mode from its creation: to a fresh temporary name in
/// the same folder (`O_CREAT|O_EXCL|O_NOFOLLOW`, the mode given to `open`, the umask can
/// only narrow it), synced, then renamed over the target. A reader sees the old file or
/// the new one, and a private key is never readable by others, not even for a moment.
enum PrivateFile {
    struct Failure: Error, CustomStringConvertible {
        var path: String
        var step: String
        var code: Int32
        var description: String { "cannot write \(path): \(step): \(String(cString: strerror(code)))" }
    }

    static func write(_ bytes: [UInt8], to url: URL, mode: mode_t) throws(Failure) {
        let target = url.path
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UInt64.random(in: 0...UInt64.max)).tmp").path
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw Failure(path: target, step: "create \(temporary)", code: errno) }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + written, bytes.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                let code = errno
                close(descriptor)
                unlink(temporary)
                throw Failure(path: target, step: "write", code: code)
            }
            written += count
        }
        let synced = fsync(descriptor) == 0 ? 0 : errno
        close(descriptor)
        guard synced == 0 else {
            unlink(temporary)
            throw Failure(path: target, step: "fsync", code: synced)
        }
        guard rename(temporary, target) == 0 else {
            let code = errno
            unlink(temporary)
            throw Failure(path: target, step: "rename", code: code)
        }
    }
}
