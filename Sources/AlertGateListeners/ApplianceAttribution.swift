import AlertGateConfig
import AlertGateCore
import NIOCore

/// Which appliance a sender is, from what a listener knows of it (docs/reference.md §4 `match`): a pure
/// value built once per listener from the config, asked once per connection (per datagram
/// for UDP).
///
/// The order is the client certificate's CN (case-insensitive, exact), then the source
/// address (the longest matching prefix wins, so a `/32` for one host beats the `/24` of
/// its subnet), then the listener's `default_appliance`.
public struct ApplianceAttribution: Sendable {
    /// The appliance a sender was attributed to, and its validation policy.
    public struct Attributed: Sendable, Hashable {
        public enum MatchedBy: Sendable, Hashable, CustomStringConvertible {
            case commonName(String)
            case source(IPNetwork)
            case defaultAppliance

            public var description: String {
                switch self {
                case .commonName(let name): "cn \(name)"
                case .source(let network): "source \(network)"
                case .defaultAppliance: "the listener's default appliance"
                }
            }
        }

        public var appliance: String
        public var validation: ValidationPolicy
        public var matchedBy: MatchedBy
    }

    /// A config this cannot use (`check-config` reports these earlier, with line numbers).
    public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    private struct Appliance: Sendable {
        var name: String
        var validation: ValidationPolicy
    }

    private struct SourceMatch: Sendable {
        var network: IPNetwork
        var appliance: Appliance
    }

    /// Keyed by the lower-cased CN.
    private let byCommonName: [String: Appliance]
    /// Longest prefix first: the first that contains an address is its best match.
    private let bySource: [SourceMatch]
    private let fallback: Appliance?

    public init(appliances: [ApplianceConfig], defaultAppliance: String?) throws(ConfigurationError) {
        var byCommonName: [String: Appliance] = [:]
        var bySource: [SourceMatch] = []
        for config in appliances {
            let appliance = Appliance(name: config.name, validation: config.validation)
            switch config.match {
            case .commonName(let name):
                byCommonName[name.lowercased()] = byCommonName[name.lowercased()] ?? appliance
            case .source(let cidr):
                guard let network = IPNetwork(cidr) else {
                    throw ConfigurationError(description: "appliance \(config.name): \(cidr) is not an IPv4 or IPv6 network")
                }
                bySource.append(SourceMatch(network: network, appliance: appliance))
            case nil:
                break
            }
        }
        // A stable sort keeps config order among networks of the same length.
        self.bySource = bySource.enumerated()
            .sorted { ($0.element.network.prefixLength, -$0.offset) > ($1.element.network.prefixLength, -$1.offset) }
            .map(\.element)
        self.byCommonName = byCommonName
        if let defaultAppliance {
            guard let config = appliances.first(where: { $0.name == defaultAppliance }) else {
                throw ConfigurationError(description: "default_appliance \(defaultAppliance) is not an appliance of the config")
            }
            fallback = Appliance(name: config.name, validation: config.validation)
        } else {
            fallback = nil
        }
    }

    public func appliance(commonName: String?, address: SocketAddress?) -> Attributed? {
        appliance(commonName: commonName, ip: address.flatMap(IPNetwork.Address.init))
    }

    public func appliance(commonName: String?, ip address: IPNetwork.Address?) -> Attributed? {
        if let commonName, let appliance = byCommonName[commonName.lowercased()] {
            return Attributed(appliance: appliance.name, validation: appliance.validation, matchedBy: .commonName(commonName))
        }
        if let address, let match = bySource.first(where: { $0.network.contains(address) }) {
            return Attributed(appliance: match.appliance.name, validation: match.appliance.validation, matchedBy: .source(match.network))
        }
        if let fallback {
            return Attributed(appliance: fallback.name, validation: fallback.validation, matchedBy: .defaultAppliance)
        }
        return nil
    }
}
