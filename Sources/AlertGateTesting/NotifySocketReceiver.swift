import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// The systemd side of sd_notify(3) for tests: a Unix datagram socket that keeps every
/// notification it receives, with when it came. Pass `environment` to the process under
/// test as systemd would set it.
public final class NotifySocketReceiver: Sendable {
    public struct Notification: Sendable {
        public var fields: [String: String]
        public var receivedAt: ContinuousClock.Instant
    }

    public let path: String
    private let descriptor: Int32
    private let received = NIOLockedValueBox<[Notification]>([])

    public init() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("alertgate-notify-\(UUID().uuidString.prefix(8)).sock").path
        self.path = path
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            close(descriptor)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EINVAL)
        }
        self.descriptor = descriptor
        let received = received
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count <= 0 {
                    if count < 0, errno == EINTR { continue }
                    return  // closed by deinit
                }
                var fields: [String: String] = [:]
                for line in String(decoding: buffer[0..<count], as: UTF8.self).split(separator: "\n") {
                    let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    fields[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
                }
                received.withLockedValue { $0.append(Notification(fields: fields, receivedAt: .now)) }
            }
        }
    }

    deinit {
        shutdown(descriptor, Int32(SHUT_RDWR))
        close(descriptor)
        unlink(path)
    }

    /// `NOTIFY_SOCKET` (and `WATCHDOG_USEC` when asked) for the process under test.
    public func environment(watchdog: Duration? = nil) -> [String: String] {
        var environment = ["NOTIFY_SOCKET": path]
        if let watchdog {
            let (seconds, attoseconds) = watchdog.components
            environment["WATCHDOG_USEC"] = String(seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
        }
        return environment
    }

    public var notifications: [Notification] {
        received.withLockedValue { $0 }
    }

    /// The first notification from `index` on that holds `key`=`value` (any value when nil),
    /// waiting up to `timeout` for it.
    public func wait(for key: String, _ value: String? = nil, after index: Int = 0, timeout: Duration = .seconds(60)) async throws -> (index: Int, notification: Notification) {
        let deadline = ContinuousClock.now + timeout
        while true {
            let all = notifications
            if index < all.count, let found = all[index...].firstIndex(where: { $0.fields[key] != nil && (value == nil || $0.fields[key] == value) }) {
                return (found, all[found])
            }
            if ContinuousClock.now >= deadline {
                throw RunningProcess.Timeout(waitingFor: "\(key)=\(value ?? "…") on \(path)", output: "\(all.map(\.fields))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
