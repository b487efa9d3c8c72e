import Foundation

/// Runs the `openssl` command-line tool, the independent maker of every test certificate.
public enum OpenSSLCLI {
    public struct Failure: Error, CustomStringConvertible {
        public var arguments: [String]
        public var status: Int32
        public var output: String
        public var description: String { "openssl \(arguments.joined(separator: " ")) exited \(status): \(output)" }
    }

    @discardableResult
    public static func run(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> String {
        try ProcessRunner.run("/usr/bin/openssl", arguments, in: directory, environment: environment)
    }
}

/// Runs a program to completion and returns its standard output.
public enum ProcessRunner {
    public struct Failure: Error, CustomStringConvertible {
        public var command: String
        public var status: Int32
        public var output: String
        public var description: String { "\(command) exited \(status): \(output)" }
    }

    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:], input: String? = nil) throws -> String {
        let result = try capture(executable, arguments, in: directory, environment: environment, input: input)
        guard result.status == 0 else {
            throw Failure(command: ([executable] + arguments).joined(separator: " "), status: result.status, output: result.standardError + result.standardOutput)
        }
        return result.standardOutput
    }

    public struct Result: Sendable {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
    }

    /// `capture` on a thread of its own: a test whose in-process server needs Swift
    /// concurrency's few threads must not block one of them while the client runs.
    public static func captureDetached(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil, timeout: TimeInterval = 120
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Swift.Result { try capture(executable, arguments, environment: environment, input: input, timeout: timeout) })
            }
        }
    }

    /// Runs the program and returns its exit status and both outputs, whatever the status.
    /// A program still running after `timeout` is killed (status -9) so that a hang fails
    /// the test that caused it instead of stalling the whole run.
    public static func capture(_ executable: String, _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:], input: String? = nil, timeout: TimeInterval = 120) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        // Outputs go to files rather than pipes: a chatty child can never block on a full pipe.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("proc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outputFile = scratch.appendingPathComponent("out")
        let errorFile = scratch.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        let stdout = try FileHandle(forWritingTo: outputFile)
        let stderr = try FileHandle(forWritingTo: errorFile)
        defer {
            try? stdout.close()
            try? stderr.close()
        }
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = stdin
        try process.run()
        // A program may exit before it reads its input (a client whose connection was
        // refused): the write then fails with EPIPE, which the throwing API reports and
        // the legacy `write(_:)` turns into a crash of the whole test process.
        if let input { try? stdin.fileHandleForWriting.write(contentsOf: Data(input.utf8)) }
        try? stdin.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return Result(
                    status: -9,
                    standardOutput: String(decoding: (try? Data(contentsOf: outputFile)) ?? Data(), as: UTF8.self),
                    standardError: "\(executable) killed after \(Int(timeout)) s: it hung\n" + String(decoding: (try? Data(contentsOf: errorFile)) ?? Data(), as: UTF8.self))
            }
            usleep(5_000)
        }
        return Result(
            status: process.terminationStatus,
            standardOutput: String(decoding: try Data(contentsOf: outputFile), as: UTF8.self),
            standardError: String(decoding: try Data(contentsOf: errorFile), as: UTF8.self)
        )
    }
}
