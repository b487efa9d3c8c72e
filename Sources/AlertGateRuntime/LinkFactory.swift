import AlertGateConfig
import AlertGateCore
import AlertGatePKI
import AlertGateTLS
import Foundation
import Logging
import Metrics

/// Builds the (appliance, partner) links of a config: the plugin by `transport`, the
/// appliance's certificate from the store, the partner's trust and name, the policy.
public struct LinkFactory: Sendable {
    public let config: GatewayConfig
    public let store: CertificateStore
    public let registry: TransportRegistry
    public let crlSource: any CRLSource
    public let logger: Logger
    public let metrics: any MetricsFactory
    /// The open partner connections, for CRL refreshes to check again.
    public let connections: PartnerConnections?

    /// Trust for partners that name no `trust` bundle: the system's CA certificates.
    public static let systemTrustFile = "/etc/ssl/certs/ca-certificates.crt"

    public init(
        config: GatewayConfig, store: CertificateStore, registry: TransportRegistry, crlSource: any CRLSource, logger: Logger,
        metrics: any MetricsFactory = MetricsSystem.factory, connections: PartnerConnections? = nil
    ) {
        self.connections = connections
        self.config = config
        self.store = store
        self.registry = registry
        self.crlSource = crlSource
        self.logger = logger
        self.metrics = metrics
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The appliance a partner's alerts are sent as when none is named: the first one.
    public var defaultAppliance: String? {
        config.appliances.first?.name
    }

    public func link(appliance applianceName: String, partner partnerName: String) throws(Failure) -> (TransportLink, any TransportPlugin) {
        guard let partner = config.partner(named: partnerName) else {
            throw Failure(description: "no partner named \"\(partnerName)\" in the config (partners: \(config.partners.map(\.name).joined(separator: ", ")))")
        }
        guard let appliance = config.appliance(named: applianceName) else {
            throw Failure(description: "no appliance named \"\(applianceName)\" in the config (appliances: \(config.appliances.map(\.name).joined(separator: ", ")))")
        }
        guard let plugin = registry.plugin(named: partner.transport) else {
            throw Failure(description: "partner \(partner.name): no transport plugin named \"\(partner.transport)\"")
        }
        let settings = Self.settings(partner)
        let destination: Destination
        do {
            destination = try plugin.destination(of: settings)
        } catch {
            throw Failure(description: error.message)
        }

        var tls = TLSConfiguration(role: .client, applicationProtocols: destination.applicationProtocols)
        if let certificateName = appliance.certificate {
            guard let item = store.item(named: certificateName), item.isValid, let certificate = item.certificate, let key = item.key else {
                let reason = store.item(named: certificateName)?.firstFailure?.problem?.message ?? "it is not in the store"
                throw Failure(description: "appliance \(appliance.name): certificate \(certificateName) cannot be used: \(reason)")
            }
            tls.certificate = certificate
            tls.privateKey = key
            tls.chain = item.chain
        }
        let context: TLSContext
        do {
            context = try TLSContext(tls)
        } catch {
            throw Failure(description: "appliance \(appliance.name): \(error)")
        }

        let anchors: [X509Certificate]
        var localCRLs: [CertificateRevocationList] = []
        if let trustName = partner.trust {
            let bundle = store.trustBundle(named: trustName)
            anchors = bundle?.certificates ?? []
            localCRLs = bundle?.revocationLists ?? []
        } else {
            anchors = (try? X509Certificate.certificates(from: Array(Data(contentsOf: URL(fileURLWithPath: Self.systemTrustFile))))) ?? []
        }
        let serverName = partner.serverName ?? destination.host
        let policy = PeerPolicy(
            policy: appliance.validation,
            expectation: PeerExpectation(
                name: serverName, nameCheck: PeerExpectation.NameCheck(rawValue: partner.nameCheck.rawValue) ?? .sanThenCN,
                trustAnchors: anchors, localRevocationLists: localCRLs),
            validator: PeerValidator(crlSource: crlSource))
        let linkLogger = logger
        let connector = LinkConnector(
            appliance: appliance.name, partner: partner.name, context: context, policy: policy,
            serverName: serverName, logger: linkLogger, metrics: metrics, connections: connections)
        let formatter = AlertFormatter(format: settings.format, hostname: Self.hostname, productVersion: AlertGateVersion.current)
        return (TransportLink(appliance: appliance.name, partner: settings, destination: destination, connector: connector, formatter: formatter, logger: linkLogger), plugin)
    }

    /// How the link's partner is checked now (trust, CRL files, policy), for open
    /// connections to be checked again; nil when the link cannot be built any more.
    public func peerPolicy(appliance: String, partner: String) -> PeerPolicy? {
        guard let (link, _) = try? link(appliance: appliance, partner: partner) else { return nil }
        return (link.connector as? LinkConnector)?.policy
    }

    static func settings(_ partner: PartnerConfig) -> PartnerSettings {
        PartnerSettings(
            name: partner.name,
            transport: partner.transport,
            endpoint: partner.endpoint,
            serverName: partner.serverName,
            format: partner.format,
            headers: partner.headers,
            batch: partner.batch,
            retry: Backoff(initial: partner.retry.initial, maximum: partner.retry.max),
            framing: partner.framing)
    }

    static let hostname: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "alertgate" : name
    }()
}

/// The product version that formats put in their headers.
public enum AlertGateVersion {
    public static let current = "0.1.0"
}
