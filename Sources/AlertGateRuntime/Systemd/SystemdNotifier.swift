import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// systemd's service notification protocol (sd_notify(3)) without libsystemd: each
/// notification is one datagram of `KEY=VALUE` lines sent to the Unix socket that
/// `NOTIFY_SOCKET` names (a path, or `@name` for the abstract namespace). systemd reads
/// `READY=1`, `RELOADING=1` with `MONOTONIC_USEC`, `STATUS=`, `WATCHDOG=1` and
/// `STOPPING=1` from the service's main process (`NotifyAccess=main`).
public struct SystemdNotifier: Sendable {
    /// The socket's address as `sockaddr_un.sun_path` takes it (a leading NUL for the
    /// abstract namespace).
    private let address: [UInt8]
    /// Half of `WATCHDOG_USEC` when systemd asked this process for keep-alives.
    public let watchdogInterval: Duration?

    /// Nil when the process was not started by systemd with notification (no
    /// `NOTIFY_SOCKET`, or one that is not a Unix socket address).
    public init?(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let socket = environment["NOTIFY_SOCKET"], !socket.isEmpty else { return nil }
        var bytes = Array(socket.utf8)
        if bytes.first == UInt8(ascii: "@") {
            bytes[0] = 0
        } else if bytes.first != UInt8(ascii: "/") {
            return nil  // vsock:… and other transports are not for a service on this machine
        }
        guard bytes.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else { return nil }
        address = bytes
        watchdogInterval = Self.watchdogInterval(environment)
    }

    /// `WATCHDOG_USEC / 2`, when `WATCHDOG_PID` (if set) is this process.
    static func watchdogInterval(_ environment: [String: String]) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = UInt64(text), microseconds > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], pid != String(getpid()) { return nil }
        return .microseconds(Int64(clamping: microseconds / 2))
    }

    /// Sends `fields` as one datagram; false when it could not be sent (systemd gone).
    @discardableResult
    public func notify(_ fields: [(String, String)]) -> Bool {
        let message = fields.map { "\($0.0)=\($0.1)" }.joined(separator: "\n")
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { path in
            path.copyBytes(from: address)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + address.count)
        let sent = message.utf8CString.withUnsafeBufferPointer { text in
            withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, text.baseAddress, text.count - 1, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        return sent == message.utf8.count
    }

    public func ready(status: String) {
        notify([("READY", "1"), ("STATUS", status)])
    }

    /// `RELOADING=1` with the monotonic clock's time, as `Type=notify-reload` requires
    /// and `Type=notify` accepts.
    public func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let microseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        notify([("RELOADING", "1"), ("MONOTONIC_USEC", String(microseconds)), ("STATUS", "reloading")])
    }

    public func watchdog() {
        notify([("WATCHDOG", "1")])
    }

    public func stopping() {
        notify([("STOPPING", "1"), ("STATUS", "stopping: draining sends in flight")])
    }
}
