import AlertGateCore
import Foundation
import AlertGateSpool
import NIOCore

/// Where alerts a partner refused for good go (HTTP 4xx other than 429): one JSON line per
/// alert in `data_dir/dead-letter/PARTNER.jsonl`, with the partner's answer, so an operator
/// can read why and send them again once the cause is fixed. Written and fsynced before
/// the alerts leave the spool: a refused alert is on disk somewhere at every moment.
public actor DeadLetterFile {
    public let directory: URL
    private let formatter = AlertFormatter(format: .json, hostname: "alertgate", productVersion: AlertGateVersion.current)

    public init(directory: URL) {
        self.directory = directory
    }

    public nonisolated func path(partner: String) -> URL {
        directory.appendingPathComponent("\(Spool.folderName(partner)).jsonl")
    }

    /// Appends one line per alert: `{"at", "partner", "appliance", "reason", "alert": {…}}`.
    public func write(_ alerts: [Alert], partner: String, appliance: String, reason: String) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let at = RFC3339.string(from: Date())
        var text = ""
        for alert in alerts {
            var buffer = ByteBufferAllocator().buffer(capacity: 512)
            formatter.writePayload(alert, into: &buffer)
            let json = buffer.readString(length: buffer.readableBytes) ?? "{}"
            text += "{\"at\":\(JSONValue.quote(at)),\"partner\":\(JSONValue.quote(partner)),\"appliance\":\(JSONValue.quote(appliance)),\"reason\":\(JSONValue.quote(reason)),\"alert\":\(json)}\n"
        }
        let url = path(partner: partner)
        if !FileManager.default.fileExists(atPath: url.path) {
            _ = FileManager.default.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.synchronize()
    }
}
