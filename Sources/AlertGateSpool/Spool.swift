import AlertGateCore
import Foundation
import Synchronization

/// Every queue of a gateway under `data_dir/spool`, one per (partner, appliance) link, and
/// the disk quota they share.
///
/// docs/reference.md §2 asks for one queue per partner; each partner gets one queue per appliance it
/// receives from, because each appliance has its own connection (its own client
/// certificate and policy). One appliance's link that fails then holds back only its own
/// alerts, and each queue's cursor stays a single number.
public final class Spool: Sendable {
    public struct Key: Hashable, Sendable, CustomStringConvertible {
        public var partner: String
        public var appliance: String

        public init(partner: String, appliance: String) {
            self.partner = partner
            self.appliance = appliance
        }

        public var description: String { "\(partner)/\(appliance)" }
    }

    public let directory: URL
    public let budget: SpoolBudget
    private let queues: Mutex<[Key: SpoolQueue]>
    /// Folders under `directory` that are not a queue's, found on open and left alone.
    public let ignoredFolders: [String]

    /// Opens the spool in `directory`, with every queue a previous run left (their alerts
    /// are still to be delivered). A folder whose name is not one `folderName` makes is
    /// not the spool's: it is ignored (`ignoredFolders`), never read.
    ///
    /// - Parameter applianceQuota: the most one appliance's alerts may take of `quota`, in
    ///   the queues of all partners together (nil: all of it).
    public init(directory: URL, quota: Int, applianceQuota: Int? = nil) throws(SpoolError) {
        self.directory = directory
        budget = SpoolBudget(quota: quota, applianceQuota: applianceQuota)
        queues = Mutex([:])
        var ignored: [String] = []
        var keys: [Key] = []
        for partner in Self.folders(in: directory) {
            for appliance in Self.folders(in: directory.appendingPathComponent(partner)) {
                if let key = Self.key(partnerFolder: partner, applianceFolder: appliance) {
                    keys.append(key)
                } else {
                    ignored.append("\(partner)/\(appliance)")
                }
            }
        }
        ignoredFolders = ignored
        for key in keys {
            _ = try queue(for: key)
        }
    }

    /// What opening each queue found damaged, ignored or corrected (only queues with
    /// something to say).
    public func recoveryReports() -> [(key: Key, report: SpoolRecoveryReport)] {
        queues.withLock { queues in
            queues.filter { !$0.value.recovery.isEmpty }.map { (key: $0.key, report: $0.value.recovery) }
        }.sorted { $0.key.description < $1.key.description }
    }

    /// The queues open now, by link.
    public var keys: [Key] {
        queues.withLock { Array($0.keys) }
    }

    /// The queue of a link, opened (and created) on first use.
    public func queue(for key: Key) throws(SpoolError) -> SpoolQueue {
        if let queue = queues.withLock({ $0[key] }) { return queue }
        let folder = directory.appendingPathComponent(Self.folderName(key.partner)).appendingPathComponent(Self.folderName(key.appliance))
        // Segments of at most a sixteenth of the quota: acknowledged ones are deleted whole,
        // so a small quota frees in small steps.
        let segmentSize = max(4 << 10, min(64 << 20, budget.quota / 16))
        let opened = try SpoolQueue(name: key.description, directory: folder, budget: budget, appliance: key.appliance, segmentSize: segmentSize)
        return queues.withLock { queues in
            if let existing = queues[key] { return existing }
            queues[key] = opened
            return opened
        }
    }

    /// Stores each batch in its queue, all or nothing as far as the quota goes: the bytes
    /// of every batch are reserved first, so a full spool refuses the whole call before
    /// anything is written. Returns once every batch is on disk.
    public func append(_ batches: [Key: [Alert]]) async throws(SpoolError) {
        var prepared: [(SpoolQueue, SpoolRecords)] = []
        for (key, alerts) in batches where !alerts.isEmpty {
            prepared.append((try queue(for: key), SpoolRecords(alerts)))
        }
        var bytes: [String: Int] = [:]
        for (queue, records) in prepared {
            bytes[queue.appliance, default: 0] += records.byteCount
        }
        switch budget.reserve(bytes) {
        case nil:
            break
        case .spool:
            throw .full(queue: "spool", used: budget.usedBytes, quota: budget.quota)
        case .appliance(let appliance):
            throw .full(queue: "spool (appliance \(appliance))", used: budget.usedBytes(appliance: appliance), quota: budget.applianceQuota)
        }
        if prepared.count == 1 {
            _ = try await prepared[0].0.commit(prepared[0].1)
            return
        }
        let failures = await withTaskGroup(of: SpoolError?.self) { group in
            for (queue, records) in prepared {
                group.addTask {
                    do {
                        _ = try await queue.commit(records)
                        return nil
                    } catch let failure as SpoolError {
                        return failure
                    } catch {
                        return .io(queue: queue.name, operation: "append", reason: "\(error)")
                    }
                }
            }
            return await group.compactMap { $0 }.reduce(into: [SpoolError]()) { $0.append($1) }
        }
        if let failure = failures.first {
            throw failure
        }
    }

    // MARK: Folder names

    /// Names as folder names: letters, digits, `.`, `-` and `_` as they are, every other
    /// byte as `%XX`, so any config name maps to one folder and back.
    public static func folderName(_ name: String) -> String {
        var result = ""
        for byte in name.utf8 {
            let scalar = Unicode.Scalar(byte)
            if byte < 0x80, scalar.properties.isAlphabetic || ("0"..."9").contains(Character(scalar)) || "-_".unicodeScalars.contains(scalar) || (byte == UInt8(ascii: ".") && !result.isEmpty) {
                result.unicodeScalars.append(scalar)
            } else {
                result += String(format: "%%%02X", byte)
            }
        }
        return result
    }

    static func name(ofFolder folder: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(folder.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// The link of a queue's folder; nil for a folder the spool never makes (a name that
    /// does not decode, or does not encode back to itself: `..`, `.hidden`, `%2f`).
    private static func key(partnerFolder: String, applianceFolder: String) -> Key? {
        guard let partner = name(ofFolder: partnerFolder), let appliance = name(ofFolder: applianceFolder),
            !partner.isEmpty, !appliance.isEmpty,
            folderName(partner) == partnerFolder, folderName(appliance) == applianceFolder
        else { return nil }
        return Key(partner: partner, appliance: appliance)
    }

    private static func folders(in directory: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        // Real folders only: a symbolic link could lead the spool to read outside it.
        return names.filter { name in
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path)
            return attributes?[.type] as? FileAttributeType == .typeDirectory
        }.sorted()
    }
}
