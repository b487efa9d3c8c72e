import Foundation

/// A program started in the background, its output collected in files so a test can wait
/// for a line, signal it, and read everything it printed.
/// Sendable: `Process` is only signalled and polled, which Foundation allows from any thread.
public final class RunningProcess: @unchecked Sendable {
    public let process: Process
    private let outputFile: URL
    private let errorFile: URL
    private let scratch: URL
    /// Held open for the process's lifetime: some programs (openssl s_server) stop when
    /// their standard input ends.
    private let input = Pipe()

    public init(_ executable: String, _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        outputFile = scratch.appendingPathComponent("out")
        errorFile = scratch.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: outputFile)
        process.standardError = try FileHandle(forWritingTo: errorFile)
        process.standardInput = input
        try process.run()
        ChildProcessRegistry.register(process.processIdentifier)
    }

    deinit {
        if process.isRunning {
            process.interrupt()
            kill(process.processIdentifier, SIGKILL)
        }
        ChildProcessRegistry.unregister(process.processIdentifier)
        try? FileManager.default.removeItem(at: scratch)
    }

    public var standardOutput: String {
        (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
    }

    public var standardError: String {
        (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
    }

    public struct Timeout: Error, CustomStringConvertible {
        public var waitingFor: String
        public var output: String
        public var description: String { "timed out waiting for \(waitingFor); output so far:\n\(output)" }
    }

    /// Waits until standard error or output contains `text`; throws after `timeout`, or
    /// when the process exits first. The output is looked at once more after the deadline:
    /// on a loaded machine this task may not run again until after it.
    public func waitForOutput(containing text: String, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            if standardError.contains(text) || standardOutput.contains(text) { return }
            if !process.isRunning {
                throw Timeout(waitingFor: "\"\(text)\" (the process exited with \(process.terminationStatus))", output: standardError + standardOutput)
            }
            if ContinuousClock.now > deadline {
                throw Timeout(waitingFor: "\"\(text)\"", output: standardError + standardOutput)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Writes `text` to the process's standard input (held open until the process ends).
    public func write(_ text: String) throws {
        try input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
    }

    public func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to exit and returns its status; kills it after `timeout`.
    public func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                kill(process.processIdentifier, SIGKILL)
                throw Timeout(waitingFor: "exit", output: standardError + standardOutput)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return process.terminationStatus
    }
}

/// The `alertgate` executable built beside the tests.
public enum AlertGateBinary {
    public static var path: String {
        if let override = ProcessInfo.processInfo.environment["ALERTGATE_BINARY"] { return override }
        // The test bundle sits in the build folder next to the executable products.
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if folder.lastPathComponent.hasSuffix(".xctest") { folder.deleteLastPathComponent() }
        return folder.appendingPathComponent("alertgate").path
    }

    /// Runs `alertgate ARGUMENTS` to completion.
    public static func run(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> ProcessRunner.Result {
        try ProcessRunner.capture(path, arguments, in: directory, environment: environment)
    }
}
