/// The forwarding rules of config.yaml: which partners an alert goes to. A pure value,
/// built once per config and asked for every alert.
public struct ForwardingRules: Sendable {
    public struct Rule: Sendable, Hashable {
        public var name: String
        /// nil: every appliance.
        public var appliances: Set<String>?
        public var minimumSeverity: Severity?
        /// Lower-cased; nil: any protocol.
        public var protocols: Set<String>?
        /// Lower-cased; nil: any engine.
        public var engines: Set<String>?
        public var partners: [String]

        public init(name: String, appliances: [String]? = nil, minimumSeverity: Severity? = nil, protocols: [String]? = nil, engines: [String]? = nil, partners: [String]) {
            self.name = name
            self.appliances = appliances.map(Set.init)
            self.minimumSeverity = minimumSeverity
            self.protocols = protocols.map { Set($0.map { $0.lowercased() }) }
            self.engines = engines.map { Set($0.map { $0.lowercased() }) }
            var unique: [String] = []
            for partner in partners where !unique.contains(partner) {
                unique.append(partner)
            }
            self.partners = unique
        }

        /// Protocol and engine names compare case-insensitively (docs/reference.md §4); an alert that
        /// names no protocol (or engine) does not match a rule that asks for some.
        public func matches(_ alert: Alert) -> Bool {
            if let appliances, !appliances.contains(alert.appliance) { return false }
            if let minimumSeverity, alert.severity < minimumSeverity { return false }
            if let protocols, !(alert.protocolName.map { protocols.contains($0.lowercased()) } ?? false) { return false }
            if let engines, !(alert.engine.map { engines.contains($0.lowercased()) } ?? false) { return false }
            return true
        }
    }

    public var rules: [Rule]

    public init(_ rules: [Rule]) {
        self.rules = rules
    }

    /// The partners of every rule the alert matches, each once, in rule order; empty for
    /// an alert no rule matches (counted as unmatched by the caller).
    public func partners(for alert: Alert) -> [String] {
        // Asked for every alert: the common single match returns the rule's own array, and
        // a few partners are deduplicated by looking, not by hashing into a set.
        var partners: [String]?
        for rule in rules where rule.matches(alert) {
            guard var merged = partners else {
                partners = rule.partners
                continue
            }
            for partner in rule.partners where !merged.contains(partner) {
                merged.append(partner)
            }
            partners = merged
        }
        return partners ?? []
    }
}
