import AlertGateCore
import Foundation
import Logging

/// One line per event on standard error (or a file): time, level, message, then the
/// event's metadata (`code=expired certificate=sensor-1`) — or the same as one JSON object
/// per line (`gateway.log.format: json`). When the output is systemd's journal, each line
/// starts with its priority (`<4>` for a warning, sd-daemon(3)) so that `journalctl -p`
/// filters, and text lines leave the time to the journal.
public struct LineLogHandler: LogHandler {
    public enum Format: Sendable {
        case text
        case json
    }

    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let format: Format
    private let output: LogOutput

    public init(label: String, format: Format, output: LogOutput) {
        self.label = label
        self.format = format
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let time = Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
        let level = Self.levelName(event.level)
        var line = output.isJournal ? "<\(Self.journalPriority(event.level))>" : ""
        switch format {
        case .text:
            // Messages and values carry peers' text (CNs, addresses, messages): escaped, so
            // that a peer never starts a line of its own (docs/reference.md §11). JSON escapes anyway.
            let fields = merged.sorted { $0.key < $1.key }.map { "\(LogEscaping.escaped($0.key))=\(Self.quoted(LogEscaping.escaped("\($0.value)")))" }
            line += ((output.isJournal ? [] : [time]) + [level, LogEscaping.escaped(event.message.description)] + fields).joined(separator: " ")
        case .json:
            var object: [String: String] = ["time": time, "level": level, "message": event.message.description, "logger": label]
            for (key, value) in merged { object[key] = "\(value)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            line += String(decoding: data, as: UTF8.self)
        }
        output.write(line + "\n")
    }

    /// The three levels operators filter on, as docs/reference.md §4 names them.
    static func levelName(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: "debug"
        case .info, .notice: "info"
        case .warning: "warning"
        case .error, .critical: "error"
        }
    }

    /// syslog(3) priorities, as the journal reads them from a `<N>` prefix.
    static func journalPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    static func quoted(_ value: String) -> String {
        value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) ? "\"\(value.replacingOccurrences(of: "\"", with: "\\\""))\"" : value
    }
}

/// Where log lines go; one lock so lines from different threads never interleave.
public final class LogOutput: Sendable {
    private let handle: FileHandle
    private let lock = NSLock()
    /// systemd connected this output to its journal: `JOURNAL_STREAM` names the stream's
    /// device and inode (systemd.exec(5)), and they are this file's.
    public let isJournal: Bool

    public static let standardError = LogOutput(handle: .standardError)

    init(handle: FileHandle, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.handle = handle
        self.isJournal = Self.isJournal(handle.fileDescriptor, stream: environment["JOURNAL_STREAM"])
    }

    static func isJournal(_ descriptor: Int32, stream: String?) -> Bool {
        guard let stream, let colon = stream.firstIndex(of: ":"),
            let device = UInt64(stream[..<colon]), let inode = UInt64(stream[stream.index(after: colon)...])
        else { return false }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    /// Appends to `path`, creating it (and its folder) if needed.
    public static func file(_ path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> LogOutput {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        return LogOutput(handle: handle, environment: environment)
    }

    func write(_ line: String) {
        lock.withLock { handle.write(Data(line.utf8)) }
    }
}
