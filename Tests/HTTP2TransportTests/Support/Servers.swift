import AlertGateTesting
import Foundation

/// `nghttpd` (nghttp2-server) on 127.0.0.1: echoes each POST body back (`--echo-upload`)
/// and prints every frame and header it receives (`-v`).
final class NGHTTPD: Sendable {
    let port: Int
    private let process: RunningProcess

    init(_ gateway: Gateway, arguments: [String] = []) async throws {
        port = try FreePort.find()
        let root = gateway.pki.directory.appendingPathComponent("www-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        process = try RunningProcess(
            "/usr/sbin/nghttpd",
            ["-a", "127.0.0.1", "--echo-upload", "-v", "-d", root.path] + arguments + [String(port), gateway.partnerKey.path, gateway.partnerChain.path])
        try await waitForListener(port: port, process: process)
    }

    var output: String {
        process.standardOutput + process.standardError
    }

    /// TLS handshakes it completed: the connections that were made to it (the readiness
    /// probe sends no TLS).
    var handshakes: Int {
        output.components(separatedBy: "SSL/TLS handshake completed").count - 1
    }
}

/// The bench's `h2sink` (the shared bench's partner: nghttp2 + epoll, counts requests,
/// alerts, `seq=N` tokens, connections and RST_STREAMs; `--fail-every K` answers every
/// K-th request with 503).
final class H2Sink: Sendable {
    let port: Int
    private let process: RunningProcess

    /// Runs until it has seen `expect` distinct `seq=N` tokens, then 500 ms more (to count
    /// late duplicates), and exits with its summary. (It also stops on SIGTERM, but a
    /// child of the test process inherits a signal mask that blocks SIGTERM.)
    init(_ gateway: Gateway, expect: Int, arguments: [String] = []) async throws {
        let path = try BenchTool.path("h2sink")
        port = try FreePort.find()
        process = try RunningProcess(path, [
            "--listen", "127.0.0.1:\(port)", "--cert", gateway.partnerChain.path, "--key", gateway.partnerKey.path,
            "--require-client-cert", "--ca", gateway.pki.rootCertificate.path, "--expect", String(expect), "--linger-ms", "500",
        ] + arguments)
        try await process.waitForOutput(containing: "h2sink: listening on", timeout: .seconds(30))
    }

    /// Waits for the sink to finish and returns its summary (one JSON object).
    func summary() async throws -> [String: Any] {
        _ = try await process.waitForExit(timeout: .seconds(30))
        let line = process.standardOutput.split(separator: "\n").last { $0.hasPrefix("{\"sink\":\"h2sink\"") }
        guard let line, let summary = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw Gateway.Failure(description: "h2sink printed no summary: \(process.standardOutput)\(process.standardError)")
        }
        return summary
    }
}
