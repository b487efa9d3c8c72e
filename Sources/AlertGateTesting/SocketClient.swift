import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP or UDP sender for syslog tests: blocking sockets with a deadline, run on a
/// thread of their own so a test's async waits keep running meanwhile.
public enum SocketClient {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Connects to 127.0.0.1:`port`, writes `bytes`, and closes. Returns how many bytes
    /// the gateway took before `timeout` (fewer than all when it stopped reading).
    public static func sendTCP(_ bytes: [UInt8], port: Int, timeout: Duration = .seconds(30)) async throws -> Int {
        try await detached {
            let socket = try connected(port: port)
            defer { close(socket) }
            let deadline = ContinuousClock.now + timeout
            var sent = 0
            while sent < bytes.count {
                var poller = pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)
                let left = deadline - ContinuousClock.now
                guard left > .zero else { break }
                let ready = poll(&poller, 1, Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
                guard ready > 0 else { break }
                let result = bytes.withUnsafeBytes { send(socket, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
                if result < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    throw Failure(description: "send to 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
                }
                sent += result
            }
            return sent
        }
    }

    /// Sends each message as one datagram to 127.0.0.1:`port`.
    public static func sendUDP(_ messages: [String], port: Int) throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(socket) }
        var address = loopback(port: port)
        for message in messages {
            let bytes = Array(message.utf8)
            let result = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(socket, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard result == bytes.count else { throw Failure(description: "sendto 127.0.0.1:\(port): \(String(cString: strerror(errno)))") }
        }
    }

    private static func connected(port: Int) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(socket)
            throw Failure(description: "connect to 127.0.0.1:\(port): \(reason)")
        }
        _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK)
        return socket
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return address
    }

    /// Runs blocking work on a thread of its own.
    private static func detached<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try work() })
            }.start()
        }
    }
}
