import AlertGateCore
import Foundation
import Testing

@testable import AlertGateSpool

/// A damaged spool keeps what it can (docs/reference.md §11): a record whose checksum fails is skipped,
/// the valid records after it are kept, the damaged file is copied aside, and each lost
/// range is reported. Cursors and file names that do not make sense never trap and never
/// cost a record that is present.
@Suite struct SpoolDamageTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("spool-damage-\(UUID().uuidString)")

    func alerts(_ range: ClosedRange<Int>) -> [Alert] {
        range.map {
            Alert(id: "alert-\($0)", receivedAt: Date(timeIntervalSince1970: 1_795_000_000), severity: .major, title: "Unauthorized PLC programming #\($0)", message: "from 10.0.0.\($0 % 250)", appliance: "sensor-1")
        }
    }

    func ids(_ range: ClosedRange<Int>) -> [String] {
        range.map { "alert-\($0)" }
    }

    /// 30 alerts, one append each, in segments of about ten records.
    func fill(acknowledging acknowledged: UInt64 = 0) async throws {
        let queue = try open()
        for number in 1...30 {
            try await queue.append(alerts(number...number))
        }
        if acknowledged > 0 {
            try await queue.acknowledge(through: acknowledged)
        }
    }

    func open() throws -> SpoolQueue {
        try SpoolQueue(name: "qradar/sensor-1", directory: folder, quota: 1 << 30, segmentSize: 1_200)
    }

    func segments() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".seg") }.sorted().map { folder.appendingPathComponent($0) }
    }

    /// Each record's (offset, length of header and payload) in a segment file.
    func records(_ url: URL) throws -> [(offset: Int, size: Int)] {
        let bytes = [UInt8](try Data(contentsOf: url))
        var result: [(Int, Int)] = []
        var offset = 0
        while offset + 8 <= bytes.count {
            let length = Int(SpoolQueue.uint32(bytes, offset))
            result.append((offset, 8 + length))
            offset += 8 + length
        }
        return result
    }

    func change(_ url: URL, _ body: (inout Data) -> Void) throws {
        var bytes = try Data(contentsOf: url)
        body(&bytes)
        try bytes.write(to: url)
    }

    func damagedCopies() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("damaged").path)) ?? []
    }

    @Test func theSegmentsOfTheseTestsHoldAboutTenRecordsEach() async throws {
        try await fill()
        let files = try segments()
        #expect(files.count >= 3)
        #expect(try records(files[1]).count >= 3)
    }

    @Test func aFlippedBitInAMiddleSegmentCostsOnlyThatRecord() async throws {
        try await fill()
        let middle = try segments()[1]
        let inside = try records(middle)
        let damaged = inside[inside.count / 2]
        let lostNumber = Int(try #require(SpoolRecovery.segmentStart(middle.lastPathComponent))) + inside.count / 2
        try change(middle) { $0[damaged.offset + damaged.size / 2] ^= 0x10 }

        let queue = try open()
        let kept = try await queue.entries(limit: 100)
        #expect(kept.map(\.alert.id) == ids(1...30).filter { $0 != "alert-\(lostNumber)" })
        #expect(await queue.depth == 29)
        #expect(kept.map(\.sequence) == Array(1...29), "numbered again without a gap")
        let damage = try #require(queue.recovery.damages.first)
        #expect(queue.recovery.damages.count == 1)
        #expect(damage.file == middle.path)
        #expect(damage.bytes == damaged.offset..<(damaged.offset + damaged.size))
        #expect(damage.recordsLost == 1)
        #expect(!damage.torn)
        #expect(queue.recovery.damagedRecords == 1)
        let copy = try #require(damage.copy)
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy)).count == (try records(middle).reduce(0) { $0 + $1.size }) + damaged.size)
        #expect(damagedCopies().count == 1)

        // The rewritten log is whole: new alerts follow, and the next start finds nothing wrong.
        #expect(try await queue.append(alerts(31...31)) == 30...30)
        let reopened = try open()
        #expect(reopened.recovery.isEmpty)
        #expect(try await reopened.entries(limit: 100).map(\.alert.id) == ids(1...31).filter { $0 != "alert-\(lostNumber)" })
    }

    /// A crash between creating a segment and writing to it leaves an empty file named after
    /// the next sequence. When damage elsewhere renumbers the log, that name comes round
    /// again: the empty file must be gone by then, or every append to the queue fails.
    @Test func anEmptySegmentLeftByACrashDoesNotBlockTheRenumberedLog() async throws {
        try await fill()
        let empty = URL(fileURLWithPath: SpoolQueue.segmentPath(folder, 31))
        #expect(FileManager.default.createFile(atPath: empty.path, contents: nil))
        let middle = try segments()[1]
        let inside = try records(middle)
        try change(middle) { $0[inside[2].offset + inside[2].size / 2] ^= 0x10 }

        let queue = try open()
        #expect(await queue.depth == 29)
        #expect(!FileManager.default.fileExists(atPath: empty.path), "the empty segment was left behind")
        for number in 31...60 {
            _ = try await queue.append(alerts(number...number))
        }
        #expect(await queue.depth == 59)
        #expect(try await open().entries(limit: 100).count == 59)
    }

    @Test func damageInSeveralFilesCostsOnlyTheDamagedRecordsAndTheLogStaysWhole() async throws {
        try await fill()
        let files = try segments()
        #expect(files.count >= 3)
        var lost: Set<String> = []
        for (file, positions) in [(files[0], [1, 3]), (files[files.count - 1], [0])] {
            let start = Int(try #require(SpoolRecovery.segmentStart(file.lastPathComponent)))
            let inside = try records(file)
            try change(file) { bytes in
                for position in positions { bytes[inside[position].offset + inside[position].size - 1] ^= 0x20 }
            }
            lost.formUnion(positions.map { "alert-\(start + $0)" })
        }
        let queue = try open()
        let expected = ids(1...30).filter { !lost.contains($0) }
        #expect(try await queue.entries(limit: 100).map(\.alert.id) == expected)
        #expect(try await queue.entries(limit: 100).map(\.sequence) == Array(1...UInt64(expected.count)))
        #expect(queue.recovery.damages.count == 3)
        #expect(queue.recovery.damagedRecords == 3)
        #expect(damagedCopies().count == 2)
        // Numbered again without a gap, the files renamed: the next start finds a whole log.
        let reopened = try open()
        #expect(reopened.recovery.isEmpty)
        #expect(try await reopened.entries(limit: 100).map(\.alert.id) == expected)
        #expect(try await reopened.append(alerts(31...31)) == UInt64(expected.count + 1)...UInt64(expected.count + 1))
    }

    @Test func aFlippedBitInTheLastSegmentKeepsTheRecordsAfterIt() async throws {
        try await fill()
        let last = try #require(try segments().last)
        let inside = try records(last)
        let damaged = inside[inside.count / 2]
        let lostNumber = 30 - inside.count + 1 + inside.count / 2
        try change(last) { $0[damaged.offset + damaged.size - 3] ^= 0x01 }

        let queue = try open()
        #expect(try await queue.entries(limit: 100).map(\.alert.id) == ids(1...30).filter { $0 != "alert-\(lostNumber)" })
        #expect(await queue.depth == 29)
        #expect(queue.recovery.damages.count == 1)
        #expect(queue.recovery.damages.first?.recordsLost == nil, "the last file: how many were lost is not known")
        #expect(queue.recovery.damagedRecords == 1)
        #expect(damagedCopies().count == 1)
    }

    @Test func aTornTailIsCutAndReported() async throws {
        try await fill()
        let last = try #require(try segments().last)
        let inside = try records(last)
        try change(last) { $0 = $0.prefix(inside[inside.count - 1].offset + 20) }

        let queue = try open()
        #expect(try await queue.entries(limit: 100).map(\.alert.id) == ids(1...29))
        let damage = try #require(queue.recovery.damages.first)
        #expect(damage.torn)
        #expect(try await queue.append(alerts(31...31)) == 30...30)
        #expect(try open().recovery.isEmpty)
    }

    @Test func anOversizedLengthFieldCostsOnlyItsRecord() async throws {
        try await fill()
        let middle = try segments()[1]
        let inside = try records(middle)
        let damaged = inside[1]
        try change(middle) { bytes in
            for index in 0..<4 { bytes[damaged.offset + index] = 0xF0 }
        }
        let queue = try open()
        #expect(try await queue.entries(limit: 100).count == 29)
        #expect(queue.recovery.damages.first?.recordsLost == 1)
    }

    @Test func damageBeforeTheCursorResendsNothingTheNamesAccountFor() async throws {
        // The cursor is in the middle segment, past its damaged record.
        try await fill()
        let middle = try segments()[1]
        let start = Int(try #require(SpoolRecovery.segmentStart(middle.lastPathComponent)))
        let inside = try records(middle)
        do {
            let queue = try open()
            try await queue.acknowledge(through: UInt64(start + 2))
        }
        try change(middle) { $0[inside[1].offset + 12] ^= 0x80 }
        let queue = try open()
        #expect(try await queue.entries(limit: 100).map(\.alert.id) == ids((start + 3)...30))
    }

    @Test func damageInTheLastSegmentBeforeTheCursorResendsRatherThanSkips() async throws {
        try await fill()
        let last = try #require(try segments().last)
        let start = Int(try #require(SpoolRecovery.segmentStart(last.lastPathComponent)))
        let inside = try records(last)
        do {
            let queue = try open()
            try await queue.acknowledge(through: 29)
        }
        try change(last) { $0[inside[1].offset + 12] ^= 0x80 }
        let queue = try open()
        // Which of the records after the damage were accepted is not known: they are sent again.
        #expect(try await queue.entries(limit: 100).map(\.alert.id) == ids((start + 2)...30))
    }

    // MARK: Cursor and names

    func writeCursor(_ value: UInt64) throws {
        var slot: [UInt8] = []
        withUnsafeBytes(of: value.littleEndian) { slot.append(contentsOf: $0) }
        withUnsafeBytes(of: CRC32.checksum(slot).littleEndian) { slot.append(contentsOf: $0) }
        slot += [0, 0, 0, 0]
        try Data(slot + slot).write(to: folder.appendingPathComponent("cursor"))
    }

    @Test func aCursorBeyondTheEndIsSetBackAndEveryRecordIsSentAgain() async throws {
        try await fill(acknowledging: 14)
        let first = Int(try #require(SpoolRecovery.segmentStart(try segments()[0].lastPathComponent)))
        #expect(first > 1 && first <= 15)
        try writeCursor(UInt64.max)
        let queue = try open()
        #expect(try await queue.entries(limit: 100).first?.alert.id == "alert-\(first)", "from the first file still on disk")
        #expect(try await queue.entries(limit: 100).last?.alert.id == "alert-30")
        #expect(queue.recovery.warnings.contains { $0.contains("beyond the end of the log") })
        #expect(try await queue.append(alerts(31...31)) == 31...31)

        try writeCursor(1_000)
        #expect(try open().recovery.warnings.contains { $0.contains("beyond the end of the log") })
    }

    @Test func aCursorBeyondAnyPossibleSequenceOnAnEmptyQueueIsReset() async throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try writeCursor(UInt64.max)
        let queue = try open()
        #expect(await queue.acknowledged == 0)
        #expect(try await queue.append(alerts(1...2)) == 1...2)
    }

    @Test func aCursorBeforeTheStartIsMovedToIt() async throws {
        try await fill(acknowledging: 14)
        let first = Int(try #require(SpoolRecovery.segmentStart(try segments()[0].lastPathComponent)))
        #expect(first > 4)
        try writeCursor(3)
        let queue = try open()
        #expect(try await queue.entries(limit: 100).map(\.alert.id) == ids(first...30))
        #expect(queue.recovery.warnings.contains { $0.contains("before the start of the log") })
    }

    @Test func filesThatAreNotTheSpoolsAreIgnoredAndNeverRead() async throws {
        try await fill()
        let manager = FileManager.default
        try Data("not a segment".utf8).write(to: folder.appendingPathComponent("notes.txt"))
        try Data([1, 2, 3]).write(to: folder.appendingPathComponent("99999999999999999999.seg"))  // beyond UInt64
        try manager.createDirectory(at: folder.appendingPathComponent("00000000000000000500.seg"), withIntermediateDirectories: true)
        try manager.createSymbolicLink(atPath: folder.appendingPathComponent("00000000000000000600.seg").path, withDestinationPath: "/etc/passwd")
        let queue = try open()
        #expect(try await queue.entries(limit: 100).map(\.alert.id) == ids(1...30))
        #expect(queue.recovery.warnings.count == 4)
        #expect(manager.fileExists(atPath: folder.appendingPathComponent("notes.txt").path), "left alone")
    }

    @Test func aSegmentNamedPastAnyPossibleSequenceIsNumberedAgain() async throws {
        try await fill()
        let last = try #require(try segments().last)
        try FileManager.default.moveItem(at: last, to: folder.appendingPathComponent("18446744073709551615.seg"))
        let queue = try open()
        #expect(try await queue.entries(limit: 100).map(\.alert.id) == ids(1...30))
        #expect(try await queue.append(alerts(31...31)) == 31...31)
        #expect(try open().recovery.isEmpty)
    }

    @Test func foldersThatAreNotALinksAreIgnored() async throws {
        let manager = FileManager.default
        try manager.createDirectory(at: folder.appendingPathComponent("%zz/sensor-1"), withIntermediateDirectories: true)
        try manager.createDirectory(at: folder.appendingPathComponent("qradar/.."), withIntermediateDirectories: true)
        try manager.createDirectory(at: folder.appendingPathComponent("qradar"), withIntermediateDirectories: true)
        try manager.createSymbolicLink(atPath: folder.appendingPathComponent("qradar/elsewhere").path, withDestinationPath: "/tmp")
        let spool = try Spool(directory: folder, quota: 1 << 20)
        #expect(spool.keys.isEmpty)
        #expect(spool.ignoredFolders == ["%zz/sensor-1"])
    }
}

/// Fairness (issue 10): one appliance's flood fills its share of the spool, not the spool.
@Suite struct SpoolShareTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("spool-share-\(UUID().uuidString)")

    func alerts(_ count: Int, appliance: String) -> [Alert] {
        (1...count).map { Alert(id: "\(appliance)-\($0)", receivedAt: Date(), severity: .major, title: String(repeating: "flood ", count: 20), appliance: appliance) }
    }

    @Test func aFloodFromOneApplianceIsRefusedAtItsShareAndTheOthersAreStillTaken() async throws {
        let spool = try Spool(directory: folder, quota: 64 * 1024, applianceQuota: 16 * 1024)
        let flooder = Spool.Key(partner: "qradar", appliance: "plc-flood")
        var refusal: SpoolError?
        for _ in 0..<1000 {
            do {
                try await spool.append([flooder: alerts(10, appliance: "plc-flood")])
            } catch {
                refusal = error
                break
            }
        }
        let error = try #require(refusal)
        guard case .full = error else { Issue.record("\(error)"); return }
        #expect(error.description.contains("appliance plc-flood"))
        #expect(spool.budget.usedBytes(appliance: "plc-flood") <= 16 * 1024)
        #expect(spool.budget.usedBytes < 64 * 1024 / 2, "the spool itself is far from full")

        // Another appliance's batch is still accepted, for every partner.
        let sensor = [
            Spool.Key(partner: "qradar", appliance: "sensor-1"): alerts(10, appliance: "sensor-1"),
            Spool.Key(partner: "splunk", appliance: "sensor-1"): alerts(10, appliance: "sensor-1"),
        ]
        try await spool.append(sensor)
        #expect(try await spool.queue(for: Spool.Key(partner: "splunk", appliance: "sensor-1")).depth == 10)

        // The flooder's share frees as its partner takes its alerts.
        let queue = try spool.queue(for: flooder)
        try await queue.acknowledge(through: await queue.lastSequence)
        try await spool.append([flooder: alerts(10, appliance: "plc-flood")])

        // Reopened, the bytes on disk count against each appliance's share again.
        let reopened = try Spool(directory: folder, quota: 64 * 1024, applianceQuota: 16 * 1024)
        #expect(reopened.budget.usedBytes(appliance: "sensor-1") == spool.budget.usedBytes(appliance: "sensor-1"))
    }
}
