import Foundation

/// The bench's C tools (`tlssink`, `h2sink`, `loadgen`), built once from `../shared/bench`
/// (or `$BENCH_ROOT`) into a temporary folder named after a digest of their sources:
/// later runs reuse them, and the bench folder may be read-only.
public enum BenchTool {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) {
            self.description = description
        }
    }

    /// The bench: `$BENCH_ROOT`, else `../shared/bench` beside the package.
    public static let root: URL = {
        if let root = ProcessInfo.processInfo.environment["BENCH_ROOT"] { return URL(fileURLWithPath: root) }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.deletingLastPathComponent().appendingPathComponent("shared/bench")
    }()

    private static let built = BuiltTools()

    /// The path of a built tool.
    public static func path(_ name: String) throws -> String {
        try built.path(name)
    }

    fileprivate static func build(_ name: String) throws -> String {
        let source = root
        let files = ["Makefile", "src/\(name).c", "src/common.h", "src/tlsctx.h"]
        let digest = try files.reduce(into: UInt64(0xcbf2_9ce4_8422_2325)) { hash, file in
            for byte in try Data(contentsOf: source.appendingPathComponent(file)) {
                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3  // FNV-1a
            }
        }
        let binary = FileManager.default.temporaryDirectory.appendingPathComponent("alertgate-\(name)-\(String(digest, radix: 16))")
        if FileManager.default.isExecutableFile(atPath: binary.path) {
            return binary.path
        }
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("alertgate-\(name)-build-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: copy) }
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: source.appendingPathComponent("Makefile"), to: copy.appendingPathComponent("Makefile"))
        try FileManager.default.copyItem(at: source.appendingPathComponent("src"), to: copy.appendingPathComponent("src"))
        try ProcessRunner.run("/usr/bin/make", ["-s", "-C", copy.path, "build/\(name)"])
        // rename(2) is atomic: a test process building beside this one finds a whole file.
        guard rename(copy.appendingPathComponent("build/\(name)").path, binary.path) == 0 else {
            throw Failure(description: "cannot move the built \(name) to \(binary.path)")
        }
        return binary.path
    }
}

/// Builds each tool once per test process.
private final class BuiltTools: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [String: Result<String, BenchTool.Failure>] = [:]

    func path(_ name: String) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let result = results[name] { return try result.get() }
        let result: Result<String, BenchTool.Failure>
        do {
            result = .success(try BenchTool.build(name))
        } catch {
            result = .failure(BenchTool.Failure(description: "cannot build the bench's \(name) from \(BenchTool.root.path): \(error)"))
        }
        results[name] = result
        return try result.get()
    }
}

/// A bench sink (`tlssink` for syslog over TLS, `h2sink` for HTTP/2) on 127.0.0.1: requires
/// a client certificate chaining to `clientCA`, keeps every message it receives in a file,
/// and counts `seq=N` tokens, connections and handshakes.
public final class BenchSink: Sendable {
    public enum Kind: String, Sendable {
        case syslogTLS = "tlssink"
        case http2 = "h2sink"
    }

    public let kind: Kind
    public let port: Int
    public let messagesFile: URL
    private let process: RunningProcess

    /// - Parameter expect: the sink exits (with its summary) after this many distinct `seq=N`
    ///   tokens and 500 ms more; nil runs until killed.
    public init(_ kind: Kind, certificateChain: URL, key: URL, clientCA: URL, port: Int? = nil, expect: Int? = nil, arguments: [String] = []) async throws {
        self.kind = kind
        self.port = try port ?? FreePort.find()
        messagesFile = FileManager.default.temporaryDirectory.appendingPathComponent("sink-\(UUID().uuidString).txt")
        var all = [
            "--listen", "127.0.0.1:\(self.port)", "--cert", certificateChain.path, "--key", key.path,
            "--require-client-cert", "--ca", clientCA.path, "--out", messagesFile.path,
        ]
        if let expect { all += ["--expect", String(expect), "--linger-ms", "500"] }
        process = try RunningProcess(try BenchTool.path(kind.rawValue), all + arguments)
        try await process.waitForOutput(containing: "listening on", timeout: .seconds(30))
    }

    /// The messages it received, one per line of its `--out` file (complete once the sink
    /// has exited: it buffers the file).
    public var messages: [String] {
        ((try? String(contentsOf: messagesFile, encoding: .utf8)) ?? "").split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    public var output: String {
        process.standardOutput + process.standardError
    }

    /// Waits for a sink started with `expect:` to finish, and returns its summary.
    public func summary(timeout: Duration = .seconds(60)) async throws -> [String: Any] {
        _ = try await process.waitForExit(timeout: timeout)
        let line = process.standardOutput.split(separator: "\n").last { $0.hasPrefix("{\"sink\":") }
        guard let line, let summary = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw BenchTool.Failure(description: "\(kind.rawValue) printed no summary: \(output)")
        }
        return summary
    }

    /// Stops it (SIGKILL: children of the test process have SIGTERM blocked).
    public func kill() {
        process.signal(SIGKILL)
    }

    deinit {
        process.signal(SIGKILL)
        try? FileManager.default.removeItem(at: messagesFile)
    }
}
