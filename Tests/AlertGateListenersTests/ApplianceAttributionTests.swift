import AlertGateConfig
import AlertGateCore
@testable import AlertGateListeners
import NIOCore
import Testing

@Suite struct ApplianceAttributionTests {
    typealias H = ListenerHarness

    let appliances = [
        H.appliance("sensor-cn", cn: "Sensor-1.Contoso.com", validation: .required),
        H.appliance("plant-net", source: "10.1.0.0/16", validation: .none),
        H.appliance("plant-host", source: "10.1.2.3/32"),
        H.appliance("v6-net", source: "fd00:1::/64"),
        H.appliance("fallback"),
    ]

    func address(_ text: String) throws -> SocketAddress {
        try SocketAddress(ipAddress: text, port: 514)
    }

    @Test func theCommonNameWinsCaseInsensitively() throws {
        let attribution = try ApplianceAttribution(appliances: appliances, defaultAppliance: "fallback")
        let found = attribution.appliance(commonName: "sensor-1.contoso.COM", address: try address("10.1.2.3"))
        #expect(found?.appliance == "sensor-cn")
        #expect(found?.validation == .required)
        // Exact, not a suffix or prefix match.
        #expect(attribution.appliance(commonName: "x.sensor-1.contoso.com", address: nil)?.appliance == "fallback")
    }

    @Test func theLongestPrefixWins() throws {
        let attribution = try ApplianceAttribution(appliances: appliances, defaultAppliance: nil)
        #expect(attribution.appliance(commonName: nil, address: try address("10.1.2.3"))?.appliance == "plant-host")
        let net = attribution.appliance(commonName: nil, address: try address("10.1.9.9"))
        #expect(net?.appliance == "plant-net")
        #expect(net?.validation == ValidationPolicy.none)
        #expect(attribution.appliance(commonName: "unknown.contoso.com", address: try address("10.2.0.1")) == nil)
    }

    @Test func ipv6AndIPv4MappedAddressesMatch() throws {
        let attribution = try ApplianceAttribution(appliances: appliances, defaultAppliance: nil)
        #expect(attribution.appliance(commonName: nil, address: try address("fd00:1::42"))?.appliance == "v6-net")
        #expect(attribution.appliance(commonName: nil, address: try address("fd00:2::42")) == nil)
        // An IPv4 client on a dual-stack socket.
        #expect(attribution.appliance(commonName: nil, address: try address("::ffff:10.1.2.3"))?.appliance == "plant-host")
        #expect(attribution.appliance(commonName: nil, address: try address("::ffff:10.1.7.1"))?.appliance == "plant-net")
    }

    @Test func theDefaultApplianceComesLast() throws {
        let attribution = try ApplianceAttribution(appliances: appliances, defaultAppliance: "fallback")
        let found = attribution.appliance(commonName: "nobody", address: try address("192.0.2.1"))
        #expect(found?.appliance == "fallback")
        #expect(found?.matchedBy == .defaultAppliance)
    }

    @Test func aDefaultThatIsNoApplianceIsAnError() {
        #expect(throws: ApplianceAttribution.ConfigurationError.self) {
            try ApplianceAttribution(appliances: appliances, defaultAppliance: "nobody")
        }
    }

    @Test func networksParseOnce() throws {
        let network = try #require(IPNetwork(parsing: "192.168.1.77/24"))
        #expect(network.contains(try #require(IPNetwork.Address("192.168.1.1"))))
        #expect(!network.contains(try #require(IPNetwork.Address("192.168.2.1"))))
        // An IPv4 network never matches a plain IPv6 address that merely shares low bits.
        #expect(!network.contains(try #require(IPNetwork.Address("::c0a8:101"))))
        #expect(IPNetwork(parsing: "10.0.0.0/33") == nil)
        #expect(IPNetwork(parsing: "fd00::/129") == nil)
        #expect(IPNetwork(parsing: "sensor.local/24") == nil)
        let all = try #require(IPNetwork(parsing: "::/0"))
        #expect(all.contains(try #require(IPNetwork.Address("10.0.0.1"))))
        let host = try #require(IPNetwork(parsing: "fd00::1"))
        #expect(host.contains(try #require(IPNetwork.Address("fd00::1"))))
        #expect(!host.contains(try #require(IPNetwork.Address("fd00::2"))))
    }
}
