import AlertGateCore
import Foundation

/// The body of `GET /v1/status`, field for field docs/reference.md §9's. Every field docs/reference.md shows is
/// always written: an absent value is `null`, never a missing key.
public struct GatewayStatus: Codable, Sendable, Equatable {
    public var certificates: [Certificate]
    public var appliances: [Appliance]
    public var partners: [Partner]
    /// `null` until the first reload.
    public var lastReload: LastReload?

    public init(certificates: [Certificate], appliances: [Appliance], partners: [Partner], lastReload: LastReload?) {
        self.certificates = certificates
        self.appliances = appliances
        self.partners = partners
        self.lastReload = lastReload
    }

    enum CodingKeys: String, CodingKey {
        case certificates, appliances, partners
        case lastReload = "last_reload"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(certificates, forKey: .certificates)
        try container.encode(appliances, forKey: .appliances)
        try container.encode(partners, forKey: .partners)
        try container.encode(lastReload, forKey: .lastReload)
    }

    /// One certificate of the store.
    public struct Certificate: Codable, Sendable, Equatable {
        public var name: String
        public var cn: String
        /// RFC 3339, UTC.
        public var notAfter: String
        public var state: State
        /// The docs/reference.md §5 code of the first failed check; `null` when valid.
        public var code: String?
        /// Its docs/reference.md §5 message; `null` when valid.
        public var message: String?

        public enum State: String, Codable, Sendable {
            case valid, invalid
        }

        public init(name: String, cn: String, notAfter: String, state: State, code: String? = nil, message: String? = nil) {
            self.name = name
            self.cn = cn
            self.notAfter = notAfter
            self.state = state
            self.code = code
            self.message = message
        }

        enum CodingKeys: String, CodingKey {
            case name, cn, state, code, message
            case notAfter = "not_after"
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(cn, forKey: .cn)
            try container.encode(notAfter, forKey: .notAfter)
            try container.encode(state, forKey: .state)
            try container.encode(code, forKey: .code)
            try container.encode(message, forKey: .message)
        }
    }

    /// One configured appliance.
    public struct Appliance: Codable, Sendable, Equatable {
        public var name: String
        public var kind: String
        /// The store certificate it presents to partners; `null` when it has none.
        public var certificate: String?
        /// Its validation policy (`required`, `none`, ...).
        public var validation: String

        public init(name: String, kind: String, certificate: String?, validation: String) {
            self.name = name
            self.kind = kind
            self.certificate = certificate
            self.validation = validation
        }

        enum CodingKeys: String, CodingKey {
            case name, kind, certificate, validation
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(kind, forKey: .kind)
            try container.encode(certificate, forKey: .certificate)
            try container.encode(validation, forKey: .validation)
        }
    }

    /// One SIEM partner and its links.
    public struct Partner: Codable, Sendable, Equatable {
        public var name: String
        public var transport: String
        public var state: LinkState
        /// The last failure; `null` when there was none since the last success.
        public var lastError: Problem?
        /// Alerts waiting in its spool.
        public var queued: Int
        /// Alerts delivered since the gateway started.
        public var delivered: Int
        public var connections: [Connection]

        public init(name: String, transport: String, state: LinkState, lastError: Problem?, queued: Int, delivered: Int, connections: [Connection]) {
            self.name = name
            self.transport = transport
            self.state = state
            self.lastError = lastError
            self.queued = queued
            self.delivered = delivered
            self.connections = connections
        }

        enum CodingKeys: String, CodingKey {
            case name, transport, state, queued, delivered, connections
            case lastError = "last_error"
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(transport, forKey: .transport)
            try container.encode(state, forKey: .state)
            try container.encode(lastError, forKey: .lastError)
            try container.encode(queued, forKey: .queued)
            try container.encode(delivered, forKey: .delivered)
            try container.encode(connections, forKey: .connections)
        }
    }

    public enum LinkState: String, Codable, Sendable {
        case connected, connecting, failing
    }

    /// A failure as docs/reference.md §5 names it: the code and the user-facing message.
    public struct Problem: Codable, Sendable, Equatable {
        public var code: String
        public var message: String

        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }
    }

    /// One appliance's connection to a partner.
    public struct Connection: Codable, Sendable, Equatable {
        public var appliance: String
        /// As the partner's: `connected`, `connecting` or `failing`.
        public var state: LinkState

        public init(appliance: String, state: LinkState) {
            self.appliance = appliance
            self.state = state
        }
    }

    public struct LastReload: Codable, Sendable, Equatable {
        /// RFC 3339, UTC.
        public var at: String
        public var ok: Bool
        public var errors: [String]

        public init(at: String, ok: Bool, errors: [String]) {
            self.at = at
            self.ok = ok
            self.errors = errors
        }

        public init(_ report: ReloadReport) {
            self.init(at: RFC3339.string(from: report.at), ok: report.ok, errors: report.errors)
        }
    }
}
