import AlertGateCore
import AlertGateSpool
import Foundation
import Logging

/// Where alerts that cannot be delivered go: those a partner refused for good (HTTP 4xx
/// other than 429), spool records this version cannot read, and a record set aside after
/// the gateway died twice while sending it. One JSON line per alert in
/// `data_dir/dead-letter/PARTNER.jsonl`, with the reason, so an operator can read why and
/// send them again once the cause is fixed. Written and fsynced before the alerts leave
/// the spool: a refused alert is on disk somewhere at every moment.
///
/// Bounded: past `maxSize` bytes the file is rotated (`PARTNER.jsonl.1`, … up to `keep`
/// files), and the oldest rotated file is deleted, with a warning that says how many
/// alerts it held, so a partner that refuses everything cannot fill the disk.
///
/// The alert is written by its own plain JSON code, not the partners' formatter: a record
/// set aside because formatting it killed the process must not kill it here again.
public actor DeadLetterFile {
    public let directory: URL
    public let maxSize: Int
    public let keep: Int
    private let logger: Logger

    public static let defaultMaxSize = 64 << 20
    public static let defaultKeep = 3

    public init(directory: URL, maxSize: Int = defaultMaxSize, keep: Int = defaultKeep, logger: Logger = Logger(label: "alertgate")) {
        self.directory = directory
        self.maxSize = max(1, maxSize)
        self.keep = max(0, keep)
        self.logger = logger
    }

    public nonisolated func path(partner: String) -> URL {
        directory.appendingPathComponent("\(Spool.folderName(partner)).jsonl")
    }

    /// Appends one line per alert: `{"at", "partner", "appliance", "reason", "alert": {…}}`.
    public func write(_ alerts: [Alert], partner: String, appliance: String, reason: String) throws {
        let lines = alerts.map { line(partner: partner, appliance: appliance, reason: reason, [("alert", Self.object($0))]) }
        try append(lines, partner: partner)
    }

    /// Appends one line per record that cannot be read as an alert: `"alert": null`, its
    /// sequence in the queue and its bytes in base64.
    public func writeUnreadable(_ records: [(sequence: UInt64, record: [UInt8])], partner: String, appliance: String, reason: String) throws {
        let lines = records.map {
            line(partner: partner, appliance: appliance, reason: reason, [
                ("alert", .null), ("sequence", .integer(Int(clamping: $0.sequence))), ("record", .string(Data($0.record).base64EncodedString())),
            ])
        }
        try append(lines, partner: partner)
    }

    private func line(partner: String, appliance: String, reason: String, _ rest: [(String, JSONValue)]) -> String {
        JSONValue.object([
            ("at", .string(RFC3339.string(from: Date()))), ("partner", .string(partner)), ("appliance", .string(appliance)),
            ("reason", .string(reason)),
        ] + rest).serialized() + "\n"
    }

    /// The JSON format's object (keys in its order, absent optionals left out, `time` null
    /// when absent).
    static func object(_ alert: Alert) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .string(alert.id)), ("time", alert.time.map { .string(RFC3339.string(from: $0)) } ?? .null),
            ("received_at", .string(RFC3339.string(from: alert.receivedAt))), ("severity", .string(alert.severity.rawValue)),
            ("title", .string(alert.title)),
        ]
        let optionals: [(String, String?)] = [
            ("message", alert.message), ("protocol", alert.protocolName), ("engine", alert.engine), ("sensor", alert.sensor),
            ("src_ip", alert.sourceIP), ("dst_ip", alert.destinationIP), ("src_mac", alert.sourceMAC), ("dst_mac", alert.destinationMAC),
            ("category", alert.category),
        ]
        members += optionals.compactMap { key, value in value.map { (key, .string($0)) } }
        members.append(("appliance", .string(alert.appliance)))
        members += [("raw", alert.raw), ("extensions", alert.extensions)].compactMap { key, value in value.map { (key, JSONValue.string($0)) } }
        return .object(members)
    }

    private func append(_ lines: [String], partner: String) throws {
        guard !lines.isEmpty else { return }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let data = Data(lines.joined().utf8)
        let url = path(partner: partner)
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        if size > 0, size + data.count > maxSize {
            try rotate(url, partner: partner)
        }
        if !FileManager.default.fileExists(atPath: url.path) {
            _ = FileManager.default.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: data)
        try handle.synchronize()
    }

    /// `PARTNER.jsonl` becomes `.1`, `.1` becomes `.2`, …; the file past `keep` is deleted.
    private func rotate(_ url: URL, partner: String) throws {
        let manager = FileManager.default
        let rotated = { (number: Int) in URL(fileURLWithPath: url.path + ".\(number)") }
        let oldest = keep == 0 ? url : rotated(keep)
        if manager.fileExists(atPath: oldest.path) {
            let dropped = (try? Data(contentsOf: oldest))?.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) } ?? 0
            try manager.removeItem(at: oldest)
            logger.warning(
                "dead-letter file \(oldest.path) deleted to stay within \(keep + 1) files of \(maxSize) bytes: \(dropped) alerts refused for partner \(partner) are gone",
                metadata: ["partner": "\(partner)"])
        }
        guard keep > 0 else { return }
        for number in stride(from: keep - 1, through: 1, by: -1) where manager.fileExists(atPath: rotated(number).path) {
            try manager.moveItem(at: rotated(number), to: rotated(number + 1))
        }
        try manager.moveItem(at: url, to: rotated(1))
    }
}
