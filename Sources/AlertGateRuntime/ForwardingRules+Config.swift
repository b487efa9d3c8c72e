import AlertGateConfig
import AlertGateCore

extension ForwardingRules {
    /// The `rules` of a config.
    public init(_ config: GatewayConfig) {
        self.init(config.rules.map { rule in
            Rule(
                name: rule.name, appliances: rule.appliances, minimumSeverity: rule.minSeverity,
                protocols: rule.protocols, engines: rule.engines, partners: rule.partners)
        })
    }
}
