import Foundation

/// Background programs started by tests (`RunningProcess`), written down so that a later
/// test process can stop those a crashed one left behind: a gateway or a receiver that
/// outlives its test keeps its port, and the next run's tests fail on it.
///
/// One file per child in a shared folder, naming the child and the test process, each with
/// its start time (`/proc/PID/stat`), so that a reused process ID is never taken for them.
enum ChildProcessRegistry {
    private static let folder = FileManager.default.temporaryDirectory.appendingPathComponent("alertgate-test-children")

    private static let reaped: Void = reapOrphans()

    /// Stops the children of test processes that are gone (once per test process, before
    /// its first child starts).
    static func reapOrphans() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for name in names {
            let file = folder.appendingPathComponent(name)
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { continue }
            let fields = text.split(separator: " ").compactMap { Int($0) }
            guard fields.count == 4 else {
                try? FileManager.default.removeItem(at: file)
                continue
            }
            let (child, childStart, parent, parentStart) = (Int32(fields[0]), fields[1], Int32(fields[2]), fields[3])
            if startTime(of: parent) == parentStart { continue }  // its test process still runs
            if startTime(of: child) == childStart {
                kill(child, SIGKILL)
            }
            try? FileManager.default.removeItem(at: file)
        }
    }

    static func register(_ child: Int32, parent: Int32 = getpid()) {
        _ = reaped
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        guard let childStart = startTime(of: child), let parentStart = startTime(of: parent) else { return }
        try? "\(child) \(childStart) \(parent) \(parentStart)".write(to: file(of: child), atomically: true, encoding: .utf8)
    }

    static func unregister(_ child: Int32) {
        try? FileManager.default.removeItem(at: file(of: child))
    }

    /// Whether `pid` is a process that has not ended.
    static func isRunning(_ pid: Int32) -> Bool {
        startTime(of: pid) != nil
    }

    static func file(of child: Int32) -> URL {
        folder.appendingPathComponent("\(child)")
    }

    /// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks since boot;
    /// nil when there is no such process, or only its zombie (it has ended).
    private static func startTime(of pid: Int32) -> Int? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { return nil }
        // After the command name (which may hold spaces) come fields 3 (the state), 4, …
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 19, fields[0] != "Z" else { return nil }
        return Int(fields[19])
    }
}
