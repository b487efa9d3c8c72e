import AlertGateCore
import Foundation
import Testing

@Suite struct ForwardingRulesTests {
    func alert(_ severity: Severity, appliance: String = "sensor-1", protocolName: String? = "Modbus", engine: String? = "Policy") -> Alert {
        Alert(id: "a", receivedAt: Date(), severity: severity, title: "t", protocolName: protocolName, engine: engine, appliance: appliance)
    }

    let rules = ForwardingRules([
        .init(name: "everything", partners: ["archive"]),
        .init(name: "major-and-up", appliances: ["sensor-1"], minimumSeverity: .major, protocols: ["modbus", "s7comm"], engines: ["policy", "anomaly"], partners: ["qradar", "archive"]),
        .init(name: "critical-to-splunk", minimumSeverity: .critical, partners: ["splunk"]),
    ])

    @Test func anAlertGoesToEveryMatchingRulesPartnersOnce() {
        #expect(rules.partners(for: alert(.critical)) == ["archive", "qradar", "splunk"])
        #expect(rules.partners(for: alert(.major)) == ["archive", "qradar"])
        #expect(rules.partners(for: alert(.minor)) == ["archive"])
    }

    @Test func eachConditionNarrowsTheRule() {
        let majorRule = rules.rules[1]
        #expect(majorRule.matches(alert(.major)))
        #expect(!majorRule.matches(alert(.major, appliance: "sensor-2")))
        #expect(!majorRule.matches(alert(.minor)))
        #expect(!majorRule.matches(alert(.major, protocolName: "DNP3")))
        #expect(!majorRule.matches(alert(.major, protocolName: nil)))
        #expect(!majorRule.matches(alert(.major, engine: "malware")))
        #expect(!majorRule.matches(alert(.major, engine: nil)))
        // Names compare case-insensitively.
        #expect(majorRule.matches(alert(.major, protocolName: "S7COMM", engine: "ANOMALY")))
    }

    @Test func anAlertNoRuleMatchesGoesNowhere() {
        let narrow = ForwardingRules([.init(name: "critical", minimumSeverity: .critical, partners: ["qradar"])])
        #expect(narrow.partners(for: alert(.warning)).isEmpty)
    }
}
