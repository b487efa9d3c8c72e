import AlertGateCore
import AlertGateListeners
import AlertGateSpool
import Foundation
import Testing

@testable import AlertGateRuntime

/// The listeners' intake: each alert lands in the queue of every partner its rules name,
/// as the appliance it came from; what no rule takes is counted, not stored.
@Suite struct SpoolIntakeTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("intake-\(UUID().uuidString)")

    func alert(_ id: String, _ severity: Severity, appliance: String = "sensor-1", protocolName: String? = nil) -> Alert {
        Alert(id: id, receivedAt: Date(), severity: severity, title: id, protocolName: protocolName, appliance: appliance)
    }

    @Test func eachAlertGoesToThePartnersOfTheRulesItMatches() async throws {
        let spool = try Spool(directory: folder, quota: 1 << 30)
        let rules = ForwardingRules([
            .init(name: "all", partners: ["siem"]),
            .init(name: "major", minimumSeverity: .major, protocols: ["modbus"], partners: ["hec"]),
            .init(name: "console", appliances: ["console-1"], partners: ["archive"]),
        ])
        let intake = SpoolIntake(rules: rules, spool: spool, counters: ForwardingCounters())
        let mixed = [
            alert("a", .minor, protocolName: "modbus"), alert("b", .critical, protocolName: "MODBUS"),
            alert("c", .critical, protocolName: "s7comm"), alert("d", .major, appliance: "console-1", protocolName: "modbus"),
        ]
        #expect(await intake.accept(mixed, from: "in-tcp") == .stored)
        func ids(_ partner: String, _ appliance: String) async throws -> [String] {
            try await spool.queue(for: Spool.Key(partner: partner, appliance: appliance)).entries(limit: 10).map(\.alert.id)
        }
        #expect(try await ids("siem", "sensor-1") == ["a", "b", "c"])
        #expect(try await ids("siem", "console-1") == ["d"])
        #expect(try await ids("hec", "sensor-1") == ["b"])
        #expect(try await ids("hec", "console-1") == ["d"])
        #expect(try await ids("archive", "console-1") == ["d"])

        // A read whose alerts all go the same way is stored as it is.
        let uniform = [alert("e", .minor), alert("f", .warning)]
        #expect(await intake.accept(uniform, from: "in-tcp") == .stored)
        #expect(try await ids("siem", "sensor-1") == ["a", "b", "c", "e", "f"])
    }

    @Test func alertsNoRuleMatchesAreNotStored() async throws {
        let spool = try Spool(directory: folder, quota: 1 << 30)
        let intake = SpoolIntake(rules: ForwardingRules([.init(name: "major", minimumSeverity: .major, partners: ["siem"])]), spool: spool, counters: ForwardingCounters())
        #expect(await intake.accept([alert("a", .minor), alert("b", .warning)], from: "in-tcp") == .stored)
        #expect(spool.budget.usedBytes == 0)
    }

    @Test func aFloodAttributedToOneApplianceIsRefusedLikeAFullSpoolWhileOthersAreStored() async throws {
        let spool = try Spool(directory: folder, quota: 1 << 20, applianceQuota: 64 << 10)
        let intake = SpoolIntake(rules: ForwardingRules([.init(name: "all", partners: ["siem"])]), spool: spool, counters: ForwardingCounters(), retryAfter: .seconds(2))
        var outcome = IntakeOutcome.stored
        for read in 0..<10_000 where outcome == .stored {
            outcome = await intake.accept((0..<50).map { alert("flood-\(read)-\($0)", .warning, appliance: "udp-source") }, from: "in-udp")
        }
        // The listener's path for a full spool: webhook 503 with Retry-After, TCP backpressure.
        #expect(outcome == .full(retryAfter: .seconds(2)))
        #expect(spool.budget.usedBytes < 1 << 19)
        #expect(await intake.accept([alert("hook-1", .critical, appliance: "sensor-1")], from: "hooks") == .stored)
    }
}
