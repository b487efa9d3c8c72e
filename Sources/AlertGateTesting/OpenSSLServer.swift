import Foundation

/// `openssl s_server` on 127.0.0.1, the independent TLS peer of the tests: it presents a
/// certificate, can require and verify a client certificate, and echoes lines reversed
/// (`-rev`) or answers HTTP/1.0 (`-www`).
public final class OpenSSLServer: @unchecked Sendable {
    public enum Mode: Sendable {
        /// Sends every line back reversed.
        case reverse
        /// Answers an HTTP GET with a status page (an HTTP/1-only server).
        case www
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
        }
        process = try RunningProcess("/usr/bin/openssl", arguments + extraArguments)
        try await process.waitForOutput(containing: "ACCEPT", timeout: .seconds(20))
    }

    /// Everything the server printed: verification lines, errors.
    public var output: String {
        process.standardOutput + process.standardError
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
    public static func find() throws -> Int {
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
