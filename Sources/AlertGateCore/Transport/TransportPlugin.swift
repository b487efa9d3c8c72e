/// A transport plugin (docs/reference.md §7): how alerts travel to a kind of partner. Plugins live
/// under `plugins/NAME/`, implement this protocol and are registered by name; the core
/// never names one.
public protocol TransportPlugin: Sendable {
    /// The name `transport:` in config.yaml selects.
    var name: String { get }

    /// Problems with a partner's settings that only this transport can see, such as the
    /// endpoint's syntax; each one is a sentence naming the field.
    func validate(_ partner: PartnerSettings) -> [String]

    /// Where the transport connects for `partner`: host, port and the expected name.
    func destination(of partner: PartnerSettings) throws(TransportError) -> Destination

    /// A sender for one (appliance, partner) link. It connects lazily and owns its connection.
    func makeSender(for link: TransportLink) -> any AlertSender
}

/// The network end of a partner.
public struct Destination: Sendable, Hashable {
    public var host: String
    public var port: Int
    /// The ALPN protocols the transport needs (`["h2"]`); empty for none.
    public var applicationProtocols: [String]

    public init(host: String, port: Int, applicationProtocols: [String] = []) {
        self.host = host
        self.port = port
        self.applicationProtocols = applicationProtocols
    }
}

/// The plugins a gateway knows, by name.
public struct TransportRegistry: Sendable {
    private var plugins: [String: any TransportPlugin] = [:]

    public init(_ plugins: [any TransportPlugin] = []) {
        for plugin in plugins {
            register(plugin)
        }
    }

    public mutating func register(_ plugin: any TransportPlugin) {
        plugins[plugin.name] = plugin
    }

    public func plugin(named name: String) -> (any TransportPlugin)? {
        plugins[name]
    }

    public var names: Set<String> {
        Set(plugins.keys)
    }
}
