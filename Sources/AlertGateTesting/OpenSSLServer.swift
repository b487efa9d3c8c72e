import NIOConcurrencyHelpers
import Foundation

/// `openssl s_server` on 127.0.0.1, the independent TLS peer of the tests: it presents a
/// certificate, can require and verify a client certificate, and echoes lines reversed
/// (`-rev`) or answers HTTP/1.0 (`-www`).
/// Sendable: only constants and a `RunningProcess`.
public final class OpenSSLServer: @unchecked Sendable {
    public enum Mode: Sendable {
        /// Sends every line back reversed.
        case reverse
        /// Answers an HTTP GET with a status page (an HTTP/1-only server).
        case www
        /// Prints what it receives (a syslog receiver).
        case sink
    }

    public let port: Int
    private let process: RunningProcess

    /// - Parameters:
    ///   - clientCA: when set, a client certificate chaining to it is required.
    ///   - alpn: protocols the server offers (e.g. `http/1.1`).
    public init(certificate: URL, key: URL, chain: URL? = nil, clientCA: URL? = nil, mode: Mode = .reverse, alpn: String? = nil, extraArguments: [String] = []) async throws {
        port = try FreePort.find()
        var arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", certificate.path, "-key", key.path, "-naccept", "100"]
        if let chain { arguments += ["-cert_chain", chain.path] }
        if let clientCA { arguments += ["-CAfile", clientCA.path, "-Verify", "4", "-verify_return_error"] }
        if let alpn { arguments += ["-alpn", alpn] }
        switch mode {
        case .reverse: arguments.append("-rev")
        case .www: arguments.append("-www")
        case .sink: arguments.append("-ign_eof")
        }
        process = try RunningProcess("/usr/bin/openssl", arguments + extraArguments)
        try await process.waitForOutput(containing: "ACCEPT")
    }

    /// Everything the server printed: verification lines, errors, and (as a sink) the data.
    public var output: String {
        process.standardOutput + process.standardError
    }

    /// The RFC 5425 frames (`LEN SP MSG`) in what the server received, each checked: the
    /// length prefix must count the message's bytes exactly.
    public var syslogFrames: [String] {
        SyslogFrameScanner.frames(in: process.standardOutput)
    }

    public func stop() {
        process.signal(SIGTERM)
    }

    deinit {
        process.signal(SIGKILL)
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
public enum FreePort {
    /// Ports this process has handed out: the kernel may give a port that was just closed
    /// again at once, and a harness that asks for six must get six different ones.
    private static let handedOut = NIOLockedValueBox<Set<Int>>([])

    /// A free loopback port, never one this process handed out before.
    public static func find() throws -> Int {
        for _ in 0..<1000 {
            let port = try probe()
            if handedOut.withLockedValue({ $0.insert(port).inserted }) { return port }
        }
        throw POSIXError(.EADDRINUSE)
    }

    private static func probe() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Finds octet-counted syslog frames in text that also holds other output.
public enum SyslogFrameScanner {
    public static func frames(in text: String) -> [String] {
        let bytes = Array(text.utf8)
        var frames: [String] = []
        var index = 0
        while index < bytes.count {
            // A frame starts with digits, a space and "<" (the PRI of RFC 5424).
            var cursor = index
            var length = 0
            while cursor < bytes.count, bytes[cursor] >= 0x30, bytes[cursor] <= 0x39, cursor - index < 7 {
                length = length * 10 + Int(bytes[cursor] - 0x30)
                cursor += 1
            }
            if cursor > index, cursor + 1 < bytes.count, bytes[cursor] == 0x20, bytes[cursor + 1] == UInt8(ascii: "<"),
                cursor + 1 + length <= bytes.count
            {
                frames.append(String(decoding: bytes[(cursor + 1)..<(cursor + 1 + length)], as: UTF8.self))
                index = cursor + 1 + length
            } else {
                index += 1
            }
        }
        return frames
    }
}
