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

/// The bench's `h2sink` (SPEC's benchmark partner: nghttp2 + epoll, counts requests,
/// alerts, `seq=N` tokens, connections and RST_STREAMs; `--fail-every K` answers every
/// K-th request with 503).
final class H2Sink: Sendable {
    let port: Int
    private let process: RunningProcess

    /// The bench: `$BENCH_ROOT`, else `../shared/bench` beside the package (as
    /// `Benchmarks/run.sh` finds it).
    static let benchRoot: URL = {
        if let root = ProcessInfo.processInfo.environment["BENCH_ROOT"] { return URL(fileURLWithPath: root) }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return package.deletingLastPathComponent().appendingPathComponent("shared/bench")
    }()

    /// The sink's binary, built once from the bench's sources into a temporary folder named
    /// after a digest of them (later runs reuse it; the bench folder may be read-only).
    static let built: Result<String, Gateway.Failure> = {
        let source = benchRoot
        do {
            let files = ["Makefile", "src/h2sink.c", "src/common.h", "src/tlsctx.h"]
            let digest = try files.reduce(into: UInt64(0xcbf2_9ce4_8422_2325)) { hash, file in
                for byte in try Data(contentsOf: source.appendingPathComponent(file)) {
                    hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3  // FNV-1a
                }
            }
            let binary = FileManager.default.temporaryDirectory.appendingPathComponent("alertgate-h2sink-\(String(digest, radix: 16))")
            if FileManager.default.isExecutableFile(atPath: binary.path) {
                return .success(binary.path)
            }
            let copy = FileManager.default.temporaryDirectory.appendingPathComponent("alertgate-h2sink-build-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: copy) }
            try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: source.appendingPathComponent("Makefile"), to: copy.appendingPathComponent("Makefile"))
            try FileManager.default.copyItem(at: source.appendingPathComponent("src"), to: copy.appendingPathComponent("src"))
            try ProcessRunner.run("/usr/bin/make", ["-s", "-C", copy.path, "build/h2sink"])
            // rename(2) is atomic: a test process building beside this one finds a whole file.
            guard rename(copy.appendingPathComponent("build/h2sink").path, binary.path) == 0 else {
                throw Gateway.Failure(description: "cannot move the built h2sink to \(binary.path)")
            }
            return .success(binary.path)
        } catch {
            return .failure(Gateway.Failure(description: "cannot build the bench's h2sink from \(source.path): \(error)"))
        }
    }()

    /// Runs until it has seen `expect` distinct `seq=N` tokens, then 500 ms more (to count
    /// late duplicates), and exits with its summary. (It also stops on SIGTERM, but a
    /// child of the test process inherits a signal mask that blocks SIGTERM.)
    init(_ gateway: Gateway, expect: Int, arguments: [String] = []) async throws {
        let path = try Self.built.get()
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
