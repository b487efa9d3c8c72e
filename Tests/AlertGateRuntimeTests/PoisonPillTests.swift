import AlertGateCore
import AlertGateSpool
import Foundation
import Logging
import MetricsTestKit
import NIOCore
import Synchronization
import Testing

@testable import AlertGateRuntime

/// No poison pill (issue 10): an alert the formatter once trapped on is delivered; a record
/// that cannot be read goes to the dead-letter file with its reason; and a record the
/// gateway dies on twice is set aside at the next start instead of crash-looping it.
@Suite struct PoisonPillTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("poison-\(UUID().uuidString)")
    let key = Spool.Key(partner: "qradar", appliance: "sensor-1")

    func alerts(_ range: ClosedRange<Int>) -> [Alert] {
        range.map { Alert(id: "a\($0)", receivedAt: Date(), severity: .major, title: "alert \($0)", appliance: "sensor-1") }
    }

    /// Formats every alert as a partner would, then accepts it; or stops answering (as a
    /// process that died would) when it meets `hangOn`.
    actor FormattingSender: AlertSender {
        let formatters: [AlertFormatter]
        let hangOn: String?
        var received: [String] = []
        var batchSizes: [Int] = []
        var payloadBytes = 0
        var hanging = false

        init(formats: [AlertFormat] = [.cef, .json], hangOn: String? = nil) {
            formatters = formats.map { AlertFormatter(format: $0, hostname: "gw", productVersion: "1") }
            self.hangOn = hangOn
        }

        func send(_ alerts: [Alert]) async -> DeliveryReport {
            batchSizes.append(alerts.count)
            if let hangOn, alerts.contains(where: { $0.id == hangOn }) {
                hanging = true
                try? await Task.sleep(for: .seconds(3600))
                return DeliveryReport(accepted: 0, outcome: .retry(after: nil, reason: TransportError(message: "stopped")))
            }
            for alert in alerts {
                for formatter in formatters {
                    var buffer = ByteBufferAllocator().buffer(capacity: 0)
                    formatter.writeSyslogMessage(alert, into: &buffer)
                    payloadBytes += buffer.readableBytes
                }
            }
            received += alerts.map(\.id)
            return DeliveryReport(accepted: alerts.count, outcome: .delivered)
        }

        func close() async {}
    }

    func dispatcher(_ spool: Spool, _ sender: FormattingSender, maxAlerts: Int = 10) throws -> (Dispatcher, SpoolQueue, DeadLetterFile) {
        let queue = try spool.queue(for: key)
        let pool = LinkPool { _ in (sender, Backoff(initial: .milliseconds(10), maximum: .milliseconds(20))) }
        let deadLetters = DeadLetterFile(directory: folder.appendingPathComponent("dead-letter"))
        let dispatcher = Dispatcher(
            key: key, queue: queue, pool: pool, limits: .init(maxAlerts: maxAlerts, maxBytes: 1 << 20, maxDelay: .zero),
            window: 3, deadLetters: deadLetters, counters: ForwardingCounters(metrics: TestMetrics()), logger: Logger(label: "test"))
        return (dispatcher, queue, deadLetters)
    }

    func until(_ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Runs a dispatcher over the spool in `directory` until `done`, then stops it.
    func deliver(_ directory: URL, _ sender: FormattingSender, until done: (SpoolQueue) async throws -> Bool) async throws -> (SpoolQueue, DeadLetterFile) {
        let spool = try Spool(directory: directory, quota: 1 << 30)
        let (dispatcher, queue, deadLetters) = try dispatcher(spool, sender)
        let running = Task { await dispatcher.run() }
        try await until { try await done(queue) }
        await dispatcher.stop()
        running.cancel()
        await running.value
        return (queue, deadLetters)
    }

    /// What `kill -9` leaves of a spool: its files as they are at this moment.
    func snapshot(_ directory: URL) throws -> URL {
        let copy = folder.appendingPathComponent("snapshot-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: directory, to: copy)
        return copy
    }

    func deadLetterLines(_ deadLetters: DeadLetterFile) throws -> [[String: Any]] {
        try String(contentsOf: deadLetters.path(partner: "qradar"), encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test func anAlertWithLargeVendorExtensionsIsFormattedAndDeliveredForCEFAndJSONPartners() async throws {
        let directory = folder.appendingPathComponent("spool")
        do {
            let spool = try Spool(directory: directory, quota: 1 << 30)
            var big = alerts(1...3)
            big[1].extensions = (1...6).map { "cs\($0)Label=Vendor custom string \($0) cs\($0)=" + String(repeating: "x", count: 150) }.joined(separator: " ")
            try await spool.queue(for: key).append(big)
        }
        let sender = FormattingSender()
        let (queue, _) = try await deliver(directory, sender) { _ in await sender.received.count == 3 }
        #expect(await sender.received == ["a1", "a2", "a3"])
        #expect(await sender.payloadBytes > 2 * 900)
        #expect(await queue.depth == 0)
    }

    @Test func aRecordTheGatewayDiesOnTwiceIsSetAsideAndTheRestDelivered() async throws {
        let first = folder.appendingPathComponent("spool")
        do {
            let spool = try Spool(directory: first, quota: 1 << 30)
            try await spool.queue(for: key).append(alerts(1...40))
        }
        // Run 1 dies while the batch holding a15 is out (with others in flight).
        let run1 = FormattingSender(hangOn: "a15")
        var afterFirstCrash: URL?
        _ = try await deliver(first, run1) { _ in
            guard await run1.hanging else { return false }
            afterFirstCrash = try snapshot(first)
            return true
        }
        let second = try #require(afterFirstCrash)
        let left = try Spool(directory: second, quota: 1 << 30).queue(for: key).leftInFlight
        #expect(left.map { $0.first <= 15 && $0.last >= 15 && $0.crashes == 0 } == true)

        // Run 2 sends what was in flight one at a time, and dies on a15 again.
        let run2 = FormattingSender(hangOn: "a15")
        var afterSecondCrash: URL?
        _ = try await deliver(second, run2) { _ in
            guard await run2.hanging else { return false }
            afterSecondCrash = try snapshot(second)
            return true
        }
        #expect(await run2.batchSizes.last == 1, "a15 went alone")
        let third = try #require(afterSecondCrash)
        // A stray file in the queue's folder changes nothing of it.
        try Data("notes".utf8).write(to: third.appendingPathComponent("qradar/sensor-1/notes.txt"))
        #expect(try Spool(directory: third, quota: 1 << 30).queue(for: key).leftInFlight == SpoolQueue.InFlight(first: 15, last: 15, crashes: 1))

        // Run 3 sets a15 aside and delivers everything else.
        let run3 = FormattingSender(hangOn: "a15")
        let (queue, deadLetters) = try await deliver(third, run3) { await $0.depth == 0 }
        #expect(await queue.acknowledged == 40)
        #expect(try Spool(directory: third, quota: 1 << 30).queue(for: key).leftInFlight == nil, "nothing in flight after a clean stop")
        let received = Set(await run1.received + run2.received + run3.received)
        #expect(received == Set((1...40).filter { $0 != 15 }.map { "a\($0)" }))
        let lines = try deadLetterLines(deadLetters)
        #expect(lines.count == 1)
        #expect((lines.first?["alert"] as? [String: Any])?["id"] as? String == "a15")
        #expect((lines.first?["reason"] as? String)?.contains("set aside") == true)
    }

    /// CRC-32 (IEEE), to forge a record with a valid checksum.
    static func crc32(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    @Test func aRecordThisVersionCannotReadGoesToTheDeadLetterFileAndTheCursorMovesOn() async throws {
        let directory = folder.appendingPathComponent("spool")
        do {
            let spool = try Spool(directory: directory, quota: 1 << 30)
            try await spool.queue(for: key).append(alerts(1...5))
        }
        // The third record gets a format version this gateway does not know, with a valid checksum.
        let queueFolder = directory.appendingPathComponent("qradar/sensor-1")
        let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: queueFolder.path).first { $0.hasSuffix(".seg") })
        let url = queueFolder.appendingPathComponent(segment)
        var bytes = [UInt8](try Data(contentsOf: url))
        var offset = 0
        for _ in 0..<2 {
            offset += 8 + Int(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
        }
        let length = Int(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
        bytes[offset + 8] = 99
        let checksum = Self.crc32(bytes[(offset + 8)..<(offset + 8 + length)])
        for index in 0..<4 { bytes[offset + 4 + index] = UInt8(truncatingIfNeeded: checksum >> (8 * UInt32(index))) }
        try Data(bytes).write(to: url)

        let sender = FormattingSender()
        let (queue, deadLetters) = try await deliver(directory, sender) { await $0.depth == 0 }
        #expect(await sender.received == ["a1", "a2", "a4", "a5"])
        #expect(await queue.acknowledged == 5)
        let lines = try deadLetterLines(deadLetters)
        #expect(lines.count == 1)
        #expect(lines.first?["sequence"] as? Int == 3)
        #expect(lines.first?["alert"] is NSNull)
        #expect((lines.first?["reason"] as? String)?.contains("cannot be read") == true)
        #expect((lines.first?["record"] as? String).flatMap { Data(base64Encoded: $0) }?.first == 99)
    }

    @Test func theDeadLetterFileIsRotatedAndTheOldestDroppedWithinItsBound() async throws {
        let deadLetters = DeadLetterFile(directory: folder.appendingPathComponent("dead-letter"), maxSize: 4_000, keep: 2)
        for batch in 0..<60 {
            try await deadLetters.write(alerts((batch * 5 + 1)...(batch * 5 + 5)), partner: "qradar", appliance: "sensor-1", reason: "HTTP 400")
        }
        let base = deadLetters.path(partner: "qradar").path
        let manager = FileManager.default
        let files = [base, base + ".1", base + ".2"]
        #expect(files.allSatisfy { manager.fileExists(atPath: $0) })
        #expect(!manager.fileExists(atPath: base + ".3"))
        let sizes = try files.map { try #require(try manager.attributesOfItem(atPath: $0)[.size] as? Int) }
        #expect(sizes.allSatisfy { $0 <= 4_000 })
        // The newest alerts are kept, in order, without a gap.
        let kept = try files.reversed().flatMap { try String(contentsOfFile: $0, encoding: .utf8).split(separator: "\n") }
        let ids = try kept.map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require((object["alert"] as? [String: Any])?["id"] as? String)
        }
        #expect(ids.last == "a300")
        #expect(ids == ((300 - ids.count + 1)...300).map { "a\($0)" })
    }

    @Test func theDeadLetterObjectIsTheJSONFormatsObject() throws {
        var alert = alerts(1...1)[0]
        alert.message = "m \u{01} \"q\""
        alert.extensions = "cs1=x"
        alert.time = Date(timeIntervalSince1970: 1_709_280_929.125)
        let formatted = AlertFormatter(format: .json, hostname: "gw", productVersion: "1").payload(alert)
        #expect(DeadLetterFile.object(alert).serialized() == formatted)
    }

    @Test func spoolDamageIsCountedAndTheCounterIsThereFromTheStart() async throws {
        let directory = folder.appendingPathComponent("spool")
        let metrics = TestMetrics()
        SpoolRecoveryLog.report(try Spool(directory: directory, quota: 1 << 20), logger: Logger(label: "test"), metrics: metrics)
        #expect(try metrics.expectCounter(SpoolRecoveryLog.damagedRecords).totalValue == 0)

        do {
            let spool = try Spool(directory: directory, quota: 1 << 30)
            for number in 1...6 {
                try await spool.queue(for: key).append(alerts(number...number))
            }
        }
        let url = try #require(try FileManager.default.contentsOfDirectory(at: directory.appendingPathComponent("qradar/sensor-1"), includingPropertiesForKeys: nil).first { $0.pathExtension == "seg" })
        var bytes = try Data(contentsOf: url)
        bytes[bytes.count / 2] ^= 0x04
        try bytes.write(to: url)
        let counted = TestMetrics()
        SpoolRecoveryLog.report(try Spool(directory: directory, quota: 1 << 30), logger: Logger(label: "test"), metrics: counted)
        #expect(try counted.expectCounter(SpoolRecoveryLog.damagedRecords).totalValue == 1)
    }

    @Test func theCrashGuardNarrowsAfterOneDeathAndSetsAsideAfterTwo() {
        #expect(CrashGuard(left: nil, acknowledged: 7).start == .clean)
        // What the partner already took is out of question.
        #expect(CrashGuard(left: .init(first: 3, last: 7, crashes: 0), acknowledged: 7).start == .clean)

        var guarded = CrashGuard(left: .init(first: 3, last: 30, crashes: 0), acknowledged: 10)
        #expect(guarded.start == .narrow(11...30))
        #expect(guarded.batchLimit(after: 10, otherwise: 500) == 1)
        #expect(guarded.isNarrowing(after: 10))
        #expect(guarded.marker(inFlight: 11...11) == .init(first: 11, last: 11, crashes: 1))
        #expect(guarded.batchLimit(after: 30, otherwise: 500) == 500)
        guarded.passed(30)
        #expect(guarded.suspects == nil)
        #expect(guarded.marker(inFlight: 31...80) == .init(first: 31, last: 80, crashes: 0))

        #expect(CrashGuard(left: .init(first: 11, last: 11, crashes: 1), acknowledged: 10).start == .setAside(11))
        // A wider range at a second death is narrowed again, never set aside whole.
        #expect(CrashGuard(left: .init(first: 11, last: 12, crashes: 1), acknowledged: 10).start == .narrow(11...12))
    }
}
