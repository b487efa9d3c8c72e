@testable import AlertGateTesting
import Foundation
import Testing

/// The test tooling's own guard: a program a crashed test process left running is stopped
/// by the next test process, so that it does not hold a port the next run needs.
@Suite struct ChildProcessRegistryTests {
    /// `sleep 300`, its output away from the test run's (which waits for every holder).
    static func sleeper() throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sleep")
        process.arguments = ["300"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Whether `process` ended within 30 s, seen in /proc (Foundation's `isRunning` may lag
    /// behind a child killed by someone else).
    func ended(_ process: Process) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(30)
        while ChildProcessRegistry.isRunning(process.processIdentifier), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        return !ChildProcessRegistry.isRunning(process.processIdentifier)
    }

    @Test func aChildWhoseTestProcessIsGoneIsStoppedAndOneWhoseTestProcessRunsIsNot() async throws {
        // A "test process" that has already ended, and a child it left behind.
        let gone = try Self.sleeper()
        let orphan = try Self.sleeper()
        ChildProcessRegistry.register(orphan.processIdentifier, parent: gone.processIdentifier)
        kill(gone.processIdentifier, SIGKILL)
        #expect(try await ended(gone))
        // A child of this (running) test process.
        let kept = try Self.sleeper()
        ChildProcessRegistry.register(kept.processIdentifier)

        ChildProcessRegistry.reapOrphans()
        #expect(try await ended(orphan))
        #expect(!FileManager.default.fileExists(atPath: ChildProcessRegistry.file(of: orphan.processIdentifier).path))
        #expect(ChildProcessRegistry.isRunning(kept.processIdentifier))
        kill(kept.processIdentifier, SIGKILL)
        ChildProcessRegistry.unregister(kept.processIdentifier)
    }
}
