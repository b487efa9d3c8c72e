import AlertGateCore
import Foundation

// The decoded `config.yaml` (docs/reference.md section 4). Every list entry carries the location of its
// mapping so later checks (certificates, connections) can point back into the file.

/// The whole configuration.
public struct GatewayConfig: Sendable, Hashable {
    public var gateway: GatewaySection
    public var store: StoreSection
    public var appliances: [ApplianceConfig]
    public var listeners: [ListenerConfig]
    public var partners: [PartnerConfig]
    public var rules: [RuleConfig]

    public init(
        gateway: GatewaySection,
        store: StoreSection,
        appliances: [ApplianceConfig] = [],
        listeners: [ListenerConfig] = [],
        partners: [PartnerConfig] = [],
        rules: [RuleConfig] = []
    ) {
        self.gateway = gateway
        self.store = store
        self.appliances = appliances
        self.listeners = listeners
        self.partners = partners
        self.rules = rules
    }

    /// The configuration of an empty file whose folder is `baseDirectory`.
    public static func defaults(baseDirectory: URL) -> GatewayConfig {
        let base = PathResolution.absolutePath(of: baseDirectory)
        return GatewayConfig(
            gateway: GatewaySection(dataDir: PathResolution.directoryURL("data", against: base)),
            store: StoreSection(dir: PathResolution.directoryURL("certs", against: base))
        )
    }

    public func certificate(named name: String) -> CertificateEntry? {
        store.certificates.first { $0.name == name }
    }

    public func trust(named name: String) -> TrustEntry? {
        store.trust.first { $0.name == name }
    }

    public func appliance(named name: String) -> ApplianceConfig? {
        appliances.first { $0.name == name }
    }

    public func listener(named name: String) -> ListenerConfig? {
        listeners.first { $0.name == name }
    }

    public func partner(named name: String) -> PartnerConfig? {
        partners.first { $0.name == name }
    }

    public func rule(named name: String) -> RuleConfig? {
        rules.first { $0.name == name }
    }
}

// MARK: - gateway

public struct GatewaySection: Sendable, Hashable {
    /// Spool, CRL cache, generated certificates. Absolute (relative paths in the file are
    /// resolved against the config file's folder).
    public var dataDir: URL
    /// The admin API's address; nil turns it off.
    public var admin: HostPort?
    /// The bearer token `/metrics`, `/v1/status` and `POST /v1/reload` need (docs/reference.md §11);
    /// nil leaves them open, which only a loopback `admin` address may do.
    public var adminToken: String?
    /// The policy of appliances that set none.
    public var validation: ValidationPolicy
    public var log: LogSection
    public var spool: SpoolSection

    public init(
        dataDir: URL,
        admin: HostPort? = nil,
        adminToken: String? = nil,
        validation: ValidationPolicy = .required,
        log: LogSection = LogSection(),
        spool: SpoolSection = SpoolSection()
    ) {
        self.dataDir = dataDir
        self.admin = admin
        self.adminToken = adminToken
        self.validation = validation
        self.log = log
        self.spool = spool
    }
}

public enum LogFormat: String, Sendable, Hashable, CaseIterable {
    case text
    case json
}

public struct LogSection: Sendable, Hashable {
    public var format: LogFormat
    /// Absolute path of the log file; nil means standard error.
    public var file: String?

    public init(format: LogFormat = .text, file: String? = nil) {
        self.format = format
        self.file = file
    }
}

public struct SpoolSection: Sendable, Hashable {
    public static let defaultMaxSize = 1 << 30
    public static let minimumSize = 1 << 20

    /// Disk quota of the spool, in bytes.
    public var maxSize: Int
    /// The most one appliance's alerts may take of it (all partners' queues together);
    /// nil: `defaultShare(appliances:)`.
    public var maxSizePerAppliance: Int?

    public init(maxSize: Int = SpoolSection.defaultMaxSize, maxSizePerAppliance: Int? = nil) {
        self.maxSize = maxSize
        self.maxSizePerAppliance = maxSizePerAppliance
    }

    /// Each appliance's share: `max_size_per_appliance` if set, else an equal share of
    /// `max_size` among the configured appliances, at least 1 MiB (and never more than
    /// `max_size`).
    public func applianceShare(appliances: Int) -> Int {
        let share = maxSizePerAppliance ?? max(Self.minimumSize, maxSize / max(1, appliances))
        return min(maxSize, share)
    }
}

/// `host:port`; an IPv6 host is written in brackets, `[::1]:9180`, and stored without them.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

// MARK: - store

public struct StoreSection: Sendable, Hashable {
    /// The store's folder, absolute.
    public var dir: URL
    /// Reload when a file of the store changes.
    public var watch: Bool
    public var crl: CRLSection
    public var trust: [TrustEntry]
    public var certificates: [CertificateEntry]

    public init(
        dir: URL,
        watch: Bool = true,
        crl: CRLSection = CRLSection(),
        trust: [TrustEntry] = [],
        certificates: [CertificateEntry] = []
    ) {
        self.dir = dir
        self.watch = watch
        self.crl = crl
        self.trust = trust
        self.certificates = certificates
    }
}

public struct CRLSection: Sendable, Hashable {
    /// HTTP proxy for CRL downloads (`proxy: http://host:port`).
    public var proxy: HostPort?
    public var timeout: Duration
    /// Refetch a CRL after this long even before its nextUpdate.
    public var maxAge: Duration

    public init(proxy: HostPort? = nil, timeout: Duration = .seconds(5), maxAge: Duration = .seconds(3600)) {
        self.proxy = proxy
        self.timeout = timeout
        self.maxAge = maxAge
    }
}

/// A CA bundle for checking partners and sensors.
public struct TrustEntry: Sendable, Hashable {
    public var name: String
    /// Absolute path (relative paths in the file are resolved against `store.dir`).
    public var file: String
    public var location: SourceLocation
    public var fileLocation: SourceLocation
    /// CRLs of the bundle's CAs (PEM, one or several; or one DER), for certificates that name
    /// no distribution point; absolute, like `file`. Nil when the entry has no `crl:`.
    public var crl: String?
    /// Where `crl:` is written: the place to report problems of the CRL file.
    public var crlLocation: SourceLocation?

    public init(
        name: String, file: String, location: SourceLocation, fileLocation: SourceLocation,
        crl: String? = nil, crlLocation: SourceLocation? = nil
    ) {
        self.name = name
        self.file = file
        self.location = location
        self.fileLocation = fileLocation
        self.crl = crl
        self.crlLocation = crlLocation
    }
}

public struct CertificateEntry: Sendable, Hashable {
    public enum Source: Sendable, Hashable {
        case files(CertificateFileSpec)
        case selfSigned(SelfSignedSpec)
    }

    public var name: String
    public var location: SourceLocation
    public var source: Source

    public init(name: String, location: SourceLocation, source: Source) {
        self.name = name
        self.location = location
        self.source = source
    }
}

/// A certificate imported from files. All paths are absolute (relative ones in the file are
/// resolved against `store.dir`).
public struct CertificateFileSpec: Sendable, Hashable {
    public var cert: String
    public var key: String?
    public var chain: String?
    public var passphrase: String?
    /// Check the certificate against its CRL at import and at every reload.
    public var useCRL: Bool
    /// `acknowledge_insecure: true`: the certificate may be self-signed (its own root).
    public var acknowledgeInsecure: Bool = false
    /// Where `cert:` is written: the place to report problems of the certificate's files.
    public var certLocation: SourceLocation
    public var keyLocation: SourceLocation?
    public var chainLocation: SourceLocation?

    public init(
        cert: String,
        key: String? = nil,
        chain: String? = nil,
        passphrase: String? = nil,
        useCRL: Bool = false,
        certLocation: SourceLocation,
        keyLocation: SourceLocation? = nil,
        chainLocation: SourceLocation? = nil
    ) {
        self.cert = cert
        self.key = key
        self.chain = chain
        self.passphrase = passphrase
        self.useCRL = useCRL
        self.certLocation = certLocation
        self.keyLocation = keyLocation
        self.chainLocation = chainLocation
    }
}

/// A certificate the gateway generates into `data_dir` (accepted only with
/// `acknowledge_insecure: true`).
public struct SelfSignedSpec: Sendable, Hashable {
    public static let allowedBits: [Int] = [2048, 4096]

    public var cn: String
    public var acknowledgeInsecure: Bool
    public var bits: Int
    public var days: Int
    public var subject: [SubjectAttribute]

    public init(cn: String, acknowledgeInsecure: Bool, bits: Int = 2048, days: Int = 365, subject: [SubjectAttribute] = []) {
        self.cn = cn
        self.acknowledgeInsecure = acknowledgeInsecure
        self.bits = bits
        self.days = days
        self.subject = subject
    }
}

/// One `KEY=value` of a subject string such as `C=US,O=Contoso,OU=OT`.
public struct SubjectAttribute: Sendable, Hashable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

// MARK: - appliances

public enum ApplianceKind: String, Sendable, Hashable, CaseIterable {
    case sensor
    case console
    case ha
}

/// An IPv4 or IPv6 network, `10.1.2.0/24` or `fd00::/64`. A bare address is a host
/// network (`/32` or `/128`).
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    public var address: String
    public var prefix: Int

    public init(address: String, prefix: Int) {
        self.address = address
        self.prefix = prefix
    }

    public var isIPv6: Bool { address.contains(":") }

    public var description: String { "\(address)/\(prefix)" }
}

/// How the gateway recognises an appliance's alerts.
public enum ApplianceMatch: Sendable, Hashable {
    /// The client certificate's CN (`{cn: sensor-1.contoso.com}`).
    case commonName(String)
    /// The sender's address (`{source: 10.1.2.0/24}`).
    case source(CIDR)
}

public struct ApplianceConfig: Sendable, Hashable {
    public var name: String
    public var kind: ApplianceKind
    /// Name of the store certificate presented as client certificate on outbound connections.
    public var certificate: String?
    /// Its own policy, or `gateway.validation` when the entry sets none.
    public var validation: ValidationPolicy
    public var match: ApplianceMatch?
    public var location: SourceLocation

    public init(
        name: String,
        kind: ApplianceKind,
        certificate: String? = nil,
        validation: ValidationPolicy = .required,
        match: ApplianceMatch? = nil,
        location: SourceLocation
    ) {
        self.name = name
        self.kind = kind
        self.certificate = certificate
        self.validation = validation
        self.match = match
        self.location = location
    }
}

// MARK: - listeners

public enum ListenerProtocol: String, Sendable, Hashable, CaseIterable {
    case syslogUDP = "syslog-udp"
    case syslogTCP = "syslog-tcp"
    case syslogTLS = "syslog-tls"
    case webhook

    /// syslog-tls and webhook (HTTPS) run TLS and need a certificate.
    public var usesTLS: Bool {
        self == .syslogTLS || self == .webhook
    }
}

public enum ClientAuth: String, Sendable, Hashable, CaseIterable {
    case required
    case optional
    case none
}

// MARK: - partners

public enum NameCheck: String, Sendable, Hashable, CaseIterable {
    /// RFC 6125: SAN DNS/IP entries, the CN only where the certificate has no SAN.
    case sanThenCN = "san-then-cn"
    case san
    case cn
}

/// A partner's output format, header fields and batch limits are the core's own types:
/// config decodes straight into what the transports use.
public typealias OutputFormat = AlertFormat
public typealias HeaderField = PartnerSettings.HeaderField
public typealias BatchConfig = PartnerSettings.BatchLimits

/// Exponential backoff with jitter, from `initial` up to `max`.
public struct RetryConfig: Sendable, Hashable {
    public var initial: Duration
    public var max: Duration

    public init(initial: Duration = .milliseconds(500), max: Duration = .seconds(30)) {
        self.initial = initial
        self.max = max
    }
}

public struct PartnerConfig: Sendable, Hashable {
    public var name: String
    /// The transport plugin's name.
    public var transport: String
    /// Where to connect, in the transport's syntax (`host:port`, a URL).
    public var endpoint: String
    /// The name the partner's CN/SAN must match; nil means the endpoint's host.
    public var serverName: String?
    public var nameCheck: NameCheck
    /// Name of the store.trust entry that checks the partner's chain.
    public var trust: String?
    public var format: OutputFormat
    /// `framing` (syslog-tls): nil means the transport's default, octet counting.
    public var framing: SyslogFraming?
    public var headers: [HeaderField]
    public var batch: BatchConfig
    public var retry: RetryConfig
    public var location: SourceLocation

    public init(
        name: String,
        transport: String,
        endpoint: String,
        serverName: String? = nil,
        nameCheck: NameCheck = .sanThenCN,
        trust: String? = nil,
        format: OutputFormat = .json,
        framing: SyslogFraming? = nil,
        headers: [HeaderField] = [],
        batch: BatchConfig = BatchConfig(),
        retry: RetryConfig = RetryConfig(),
        location: SourceLocation
    ) {
        self.name = name
        self.transport = transport
        self.endpoint = endpoint
        self.serverName = serverName
        self.nameCheck = nameCheck
        self.trust = trust
        self.format = format
        self.framing = framing
        self.headers = headers
        self.batch = batch
        self.retry = retry
        self.location = location
    }

    /// `server_name`, or else the endpoint's host (`qradar.example.com:6514` and
    /// `https://splunk.example.com:8088/…` give the host; nil if the endpoint has none).
    public var expectedServerName: String? {
        if let serverName { return serverName }
        if endpoint.contains("://") {
            return URLComponents(string: endpoint)?.host
        }
        return try? HostPort(parsing: endpoint).host
    }
}

// MARK: - rules

public struct RuleConfig: Sendable, Hashable {
    /// The detection engines a rule may filter on.
    public static let knownEngines: [String] = ["policy", "anomaly", "protocol", "malware", "operational"]

    public var name: String
    /// Names of the appliances whose alerts the rule takes; nil means all.
    public var appliances: [String]?
    public var minSeverity: Severity?
    /// Lower-cased protocol names; nil means any.
    public var protocols: [String]?
    /// Lower-cased engine names; nil means any.
    public var engines: [String]?
    /// Names of the partners the matching alerts go to (at least one).
    public var partners: [String]
    public var location: SourceLocation

    public init(
        name: String,
        appliances: [String]? = nil,
        minSeverity: Severity? = nil,
        protocols: [String]? = nil,
        engines: [String]? = nil,
        partners: [String],
        location: SourceLocation
    ) {
        self.name = name
        self.appliances = appliances
        self.minSeverity = minSeverity
        self.protocols = protocols
        self.engines = engines
        self.partners = partners
        self.location = location
    }
}
