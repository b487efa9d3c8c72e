import AlertGateCore
import AlertGatePKI
import AlertGateTLS
import Logging
import Metrics
import NIOCore

/// Opens the TLS connections of one (appliance, partner) link: the appliance's certificate
/// presented, the partner checked per the appliance's policy on every new connection.
/// Under `none` each failed check is logged once per connection as a warning and counted.
public struct LinkConnector: SecureConnecting {
    public let appliance: String
    public let partner: String
    public let context: TLSContext
    public let policy: PeerPolicy
    public let serverName: String
    public let logger: Logger
    public let metrics: any MetricsFactory
    /// Where open connections are kept for CRL refreshes to check again; nil keeps none
    /// (each connection still checks the revocation generation before every send).
    public let connections: PartnerConnections?

    public init(
        appliance: String, partner: String, context: TLSContext, policy: PeerPolicy, serverName: String, logger: Logger,
        metrics: any MetricsFactory = MetricsSystem.factory, connections: PartnerConnections? = nil
    ) {
        self.appliance = appliance
        self.partner = partner
        self.context = context
        self.policy = policy
        self.serverName = serverName
        self.logger = logger
        self.metrics = metrics
        self.connections = connections
    }

    public func connect(to destination: Destination, configure: @escaping @Sendable (any Channel) throws -> Void) async throws(TransportError) -> any SecureChannel {
        // Read before the check: a CRL that changes during it makes the first send check again.
        let generation = policy.validator.crlSource?.generation ?? 0
        let connection: TLSConnector.Connection
        do {
            connection = try await TLSConnector(context: context).connect(
                host: destination.host, port: destination.port, serverName: serverName, policy: policy, configure: configure)
        } catch {
            let failure = Self.transportError(error)
            count("alertgate_handshake_failures_total", check: failure.check ?? "connect")
            logger.error("connection to partner failed: \(failure.message)", metadata: metadata(check: failure.check))
            throw failure
        }
        for bypassed in connection.verdict?.failures ?? [] {
            count("alertgate_validation_bypassed_total", check: bypassed.code.rawValue)
            logger.warning(
                "validation policy none: connecting despite a failed check: \(bypassed.problem?.message ?? "")",
                metadata: metadata(check: bypassed.code.rawValue).merging(bypassed.detail.map { ["detail": "\($0)"] } ?? [:]) { $1 })
        }
        if let expected = destination.applicationProtocols.first, connection.peer.applicationProtocol != expected {
            connection.channel.close(promise: nil)
            let failure = TransportError(message: "partner \(partner) does not speak \(Self.protocolName(expected)): TLS ALPN agreed on \(connection.peer.applicationProtocol.map { "\"\($0)\"" } ?? "no protocol")")
            logger.error("\(failure.message)", metadata: metadata(check: nil))
            throw failure
        }
        do {
            let opened = PartnerConnection(
                tls: try await TLSSecureChannel(connection), verdict: connection.verdict, policy: policy, checkedAt: generation,
                appliance: appliance, partner: partner, logger: logger, metrics: metrics)
            connections?.add(opened)
            return opened
        } catch {
            connection.channel.close(promise: nil)
            throw TransportError(message: "partner \(partner): the connection closed right after the handshake")
        }
    }

    private func count(_ label: String, check: String) {
        Counter(label: label, dimensions: [("appliance", appliance), ("partner", partner), ("check", check)], factory: metrics).increment()
    }

    private func metadata(check: String?) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["appliance": "\(appliance)", "partner": "\(partner)"]
        if let check { metadata["code"] = "\(check)" }
        return metadata
    }

    public static func protocolName(_ alpn: String) -> String {
        alpn == "h2" ? "HTTP/2" : alpn
    }

    /// The failing step in the operator's words; a refused certificate gives its
    /// section-5 message and code.
    static func transportError(_ failure: TLSConnector.Failure) -> TransportError {
        switch failure {
        case .tls(.peerRefused(let verdict)):
            guard let check = verdict.firstFailure, let problem = check.problem else {
                return TransportError(message: failure.description)
            }
            return TransportError(check: problem.code.rawValue, message: problem.message + (check.detail.map { " [\($0)]" } ?? ""))
        case .tcp, .tls:
            return TransportError(message: failure.description)
        }
    }
}
