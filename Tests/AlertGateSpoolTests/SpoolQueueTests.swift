import AlertGateCore
@testable import AlertGateSpool
import Foundation
import Testing

/// The spool as a crash leaves it: reopened from disk, torn writes cut off, nothing that
/// was acknowledged to a sender lost.
@Suite struct SpoolQueueTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)")

    func alerts(_ range: ClosedRange<Int>) -> [Alert] {
        range.map {
            Alert(
                id: "alert-\($0)", receivedAt: Date(timeIntervalSince1970: 1_795_000_000 + Double($0)), time: $0.isMultiple(of: 2) ? Date(timeIntervalSince1970: 1_795_000_000) : nil,
                severity: Severity.allCases[$0 % 4], title: "Unauthorized PLC programming #\($0)", message: $0.isMultiple(of: 3) ? nil : "from 10.0.0.\($0 % 250) — ünïcödé",
                protocolName: "s7comm", engine: "policy", sourceIP: "10.0.0.1", destinationMAC: "00:11:22:33:44:55", appliance: "sensor-1", raw: nil, extensions: $0.isMultiple(of: 5) ? "seq=\($0) cs1Label=zone cs1=cell 7" : nil)
        }
    }

    @Test func appendedAlertsComeBackInOrderWithEveryField() async throws {
        let queue = try SpoolQueue(name: "qradar", directory: folder, quota: 1 << 30)
        let written = alerts(1...50)
        let range = try await queue.append(written)
        #expect(range == 1...50)
        let entries = try await queue.entries(limit: 100)
        #expect(entries.map(\.alert) == written)
        #expect(entries.map(\.sequence) == Array(1...50))
        #expect(await queue.depth == 50)
        #expect(try await queue.entries(after: 48, limit: 10).map(\.sequence) == [49, 50])
    }

    @Test func aReopenedQueueHoldsWhatWasNotAcknowledged() async throws {
        do {
            let queue = try SpoolQueue(name: "qradar", directory: folder, quota: 1 << 30)
            try await queue.append(alerts(1...20))
            try await queue.acknowledge(through: 12)
        }
        // A new process (the old one killed): the cursor and the log are read back.
        let reopened = try SpoolQueue(name: "qradar", directory: folder, quota: 1 << 30)
        #expect(await reopened.acknowledged == 12)
        #expect(try await reopened.entries(limit: 100).map(\.alert.id) == (13...20).map { "alert-\($0)" })
        // Sequences go on after the highest one on disk.
        #expect(try await reopened.append(alerts(21...21)) == 21...21)
    }

    @Test func aTornWriteIsCutOffAndTheQueueGoesOn() async throws {
        do {
            let queue = try SpoolQueue(name: "qradar", directory: folder, quota: 1 << 30)
            try await queue.append(alerts(1...10))
        }
        let segment = try #require(FileManager.default.contentsOfDirectory(atPath: folder.path).first { $0.hasSuffix(".seg") })
        let path = folder.appendingPathComponent(segment).path
        let intact = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        // A crash in the middle of a write: a header promising more bytes than follow.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0xFF, 0x00, 0x00, 0x00, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3]))
        try handle.close()

        let reopened = try SpoolQueue(name: "qradar", directory: folder, quota: 1 << 30)
        #expect(try await reopened.entries(limit: 100).count == 10)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int == intact)
        try await reopened.append(alerts(11...12))
        #expect(try await reopened.entries(limit: 100).map(\.sequence) == Array(1...12))
    }

    @Test func aCorruptedRecordIsSkippedAndTheRecordsAfterItAreKept() async throws {
        do {
            let queue = try SpoolQueue(name: "qradar", directory: folder, quota: 1 << 30)
            try await queue.append(alerts(1...3))
            try await queue.append(alerts(4...6))
        }
        let segment = try #require(FileManager.default.contentsOfDirectory(atPath: folder.path).first { $0.hasSuffix(".seg") })
        let url = folder.appendingPathComponent(segment)
        var bytes = try Data(contentsOf: url)
        bytes[bytes.count / 2] ^= 0xFF  // a flipped bit in the middle of the file
        try bytes.write(to: url)
        let reopened = try SpoolQueue(name: "qradar", directory: folder, quota: 1 << 30)
        let ids = try await reopened.entries(limit: 100).map(\.alert.id)
        #expect(ids.count == 5)
        #expect(ids.contains("alert-6"), "the record after the damaged one is kept")
        #expect(reopened.recovery.damages.count == 1)
    }

    @Test func theQuotaRefusesClearlyAndAcknowledgementsFreeSpace() async throws {
        let queue = try SpoolQueue(name: "qradar", directory: folder, quota: 8 * 1024, segmentSize: 1024)
        var stored = 0
        var refusal: SpoolError?
        for batch in 0..<100 {
            do {
                try await queue.append(alerts((batch * 5 + 1)...(batch * 5 + 5)))
                stored += 5
            } catch {
                refusal = error
                break
            }
        }
        let error = try #require(refusal)
        #expect(error.description.hasPrefix("spool qradar is full:"))
        #expect(await queue.depth == stored)
        #expect(await queue.usedBytes <= 8 * 1024)

        // The partner catches up: whole segments are deleted and new alerts fit again.
        try await queue.acknowledge(through: UInt64(stored))
        #expect(await queue.usedBytes < 2 * 1024)
        try await queue.append(alerts(1000...1004))
        #expect(await queue.depth == 5)
    }

    @Test func concurrentAppendsAreAllStoredWithUniqueSequences() async throws {
        let queue = try SpoolQueue(name: "qradar", directory: folder, quota: 1 << 30)
        let ranges = await withTaskGroup(of: ClosedRange<UInt64>?.self) { group in
            for batch in 0..<40 {
                let batchAlerts = alerts((batch * 10 + 1)...(batch * 10 + 10))
                group.addTask { try? await queue.append(batchAlerts) }
            }
            return await group.reduce(into: [ClosedRange<UInt64>]()) { if let range = $1 { $0.append(range) } }
        }
        #expect(ranges.count == 40)
        #expect(Set(ranges.flatMap { Array($0) }).count == 400)
        let reopened = try SpoolQueue(name: "qradar", directory: folder, quota: 1 << 30)
        #expect(Set(try await reopened.entries(limit: 1000).map(\.alert.id)).count == 400)
    }
    @Test func alertsBeyondTheMemoryLimitAreReadBackFromDisk() async throws {
        let queue = try SpoolQueue(name: "qradar", directory: folder, budget: SpoolBudget(quota: 1 << 30), memoryLimit: 2_000)
        let written = alerts(1...40)
        try await queue.append(written)
        #expect(try await queue.entries(limit: 100).map(\.alert) == written)
        try await queue.acknowledge(through: 35)
        #expect(try await queue.entries(limit: 100).map(\.alert) == Array(written[35...]))
    }

    @Test func aWaitingReaderWakesWhenAlertsArrive() async throws {
        let queue = try SpoolQueue(name: "qradar", directory: folder, quota: 1 << 30)
        async let woken: Void = queue.waitForEntries(after: 0)
        try await Task.sleep(for: .milliseconds(50))
        try await queue.append(alerts(1...1))
        await woken
        #expect(try await queue.entries(limit: 10).map(\.sequence) == [1])
        // Cancelling a wait returns at once.
        let waiting = Task { await queue.waitForEntries(after: 1) }
        waiting.cancel()
        await waiting.value
    }

    @Test func theQueuesOfASpoolShareOneQuotaAndABatchIsRefusedWhole() async throws {
        let spool = try Spool(directory: folder, quota: 6 * 1024)
        let siem = Spool.Key(partner: "qradar", appliance: "sensor-1")
        let hec = Spool.Key(partner: "splunk", appliance: "sensor-1")
        var stored = 0
        var refusal: SpoolError?
        for batch in 0..<100 {
            let batchAlerts = alerts((batch * 4 + 1)...(batch * 4 + 4))
            do {
                try await spool.append([siem: batchAlerts, hec: batchAlerts])
                stored += 4
            } catch {
                refusal = error
                break
            }
        }
        #expect(refusal?.description.hasPrefix("spool spool is full:") == true)
        // Nothing of the refused batch went into either queue.
        #expect(try await spool.queue(for: siem).depth == stored)
        #expect(try await spool.queue(for: hec).depth == stored)
        #expect(spool.budget.usedBytes <= 6 * 1024)

        // A new process finds both queues with their alerts.
        let reopened = try Spool(directory: folder, quota: 6 * 1024)
        #expect(Set(reopened.keys) == [siem, hec])
        #expect(try await reopened.queue(for: hec).entries(limit: 1000).count == stored)
    }

    @Test func linkNamesOfAnyKindMapToFoldersAndBack() {
        for name in ["qradar", "splunk hec", "../etc", "Ärger/€", ".hidden"] {
            let folder = Spool.folderName(name)
            #expect(!folder.contains("/") && !folder.hasPrefix("."))
            #expect(Spool.name(ofFolder: folder) == name)
        }
    }
}
