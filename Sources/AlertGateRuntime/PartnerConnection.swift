import AlertGateCore
import AlertGatePKI
import AlertGateTLS
import Logging
import Metrics
import NIOCore
import Synchronization

/// One open connection of an (appliance, partner) link, as transports see it: the TLS
/// channel, and the chain the partner presented as OpenSSL verified it at the handshake,
/// with the revocation generation (`CRLSource.generation`) it was last checked at.
///
/// Before each write the transport calls `confirmPeer()`: when the CRLs changed since, the
/// chain is checked again first, so nothing is written to a partner once the gateway holds
/// a CRL that revokes it. A CRL refresh also checks every open connection
/// (`PartnerConnections.recheckAll`), so an idle one is closed too. The appliance's policy
/// decides: `required` closes a revoked connection; `none` keeps it, logging and counting
/// each failed check once per connection. A CRL that cannot be had on a re-check keeps the
/// connection (its chain was checked; the next handshake fails crl-unreachable under
/// `required`) and says so once.
public final class PartnerConnection: SecureChannel {
    public let appliance: String
    public let partner: String
    /// The chain OpenSSL built at the handshake (leaf first); empty when it did not verify.
    public let verifiedChain: [X509Certificate]
    private let tls: TLSSecureChannel
    private let logger: Logger
    private let metrics: any MetricsFactory
    private let state: Mutex<State>

    private struct State {
        var policy: PeerPolicy
        var checkedGeneration: UInt64
        /// Set once the connection is refused: it stays refused.
        var refusal: TransportError?
        /// The re-check under way, shared by the sends that wait for it.
        var running: (generation: UInt64, task: Task<TransportError?, Never>)?
        /// Checks already logged (and, under `none`, counted) for this connection.
        var reported: Set<String>
    }

    init(
        tls: TLSSecureChannel, verdict: PeerVerdict?, policy: PeerPolicy, checkedAt generation: UInt64,
        appliance: String, partner: String, logger: Logger, metrics: any MetricsFactory
    ) {
        self.tls = tls
        self.verifiedChain = verdict?.verifiedChain ?? []
        self.appliance = appliance
        self.partner = partner
        self.logger = logger
        self.metrics = metrics
        // The handshake's bypassed checks were logged by the connector already.
        let reported = Set((verdict?.failures ?? []).map(\.code.rawValue))
        state = Mutex(State(policy: policy, checkedGeneration: generation, refusal: nil, running: nil, reported: reported))
    }

    // MARK: SecureChannel

    public var channel: any Channel { tls.channel }
    public var applicationProtocol: String? { tls.applicationProtocol }
    public func ciphertextBytesWritten() -> Int { tls.ciphertextBytesWritten() }
    public func acknowledgedBytes() -> EventLoopFuture<UInt64> { tls.acknowledgedBytes() }

    public func confirmPeer() async throws(TransportError) {
        enum Step {
            case current
            case refused(TransportError)
            case wait(Task<TransportError?, Never>)
        }
        let step: Step = state.withLock { state in
            if let refusal = state.refusal { return .refused(refusal) }
            let generation = state.policy.validator.crlSource?.generation ?? 0
            if generation == state.checkedGeneration { return .current }
            if let running = state.running, running.generation == generation { return .wait(running.task) }
            let policy = state.policy
            let task = Task { await self.recheck(with: policy, generation: generation) }
            state.running = (generation, task)
            return .wait(task)
        }
        switch step {
        case .current:
            return
        case .refused(let refusal):
            throw refusal
        case .wait(let task):
            if let refusal = await task.value { throw refusal }
        }
    }

    /// The generation the chain was last checked at (tests, status).
    public var checkedGeneration: UInt64 {
        state.withLock { $0.checkedGeneration }
    }

    // MARK: Re-checking

    /// Checks the chain again now (a CRL refresh), with the link's current policy when
    /// `policy` is given (a trust bundle's CRL file may have changed); nil when it was
    /// refused.
    @discardableResult
    func recheckNow(with policy: PeerPolicy?) async -> TransportError? {
        let (current, generation): (PeerPolicy, UInt64) = state.withLock { state in
            if let policy { state.policy = policy }
            return (state.policy, state.policy.validator.crlSource?.generation ?? 0)
        }
        return await recheck(with: current, generation: generation)
    }

    private func recheck(with policy: PeerPolicy, generation: UInt64) async -> TransportError? {
        let verdict = await policy.validator.recheckRevocation(of: verifiedChain, expecting: policy.expectation)
        let outcome = Self.outcome(of: verdict, policy: policy.policy)
        let (refusal, refusedNow, newlyReported): (TransportError?, Bool, [CheckResult]) = state.withLock { state in
            if state.running?.generation == generation { state.running = nil }
            // Not max(): after a reload the policy's CRL source is a new cache, whose
            // generations start again. A lower value only costs one more check.
            state.checkedGeneration = generation
            var refusedNow = false
            if case .close(let refusal) = outcome, state.refusal == nil {
                state.refusal = refusal
                refusedNow = true
            }
            let fresh = verdict.failures.filter { state.reported.insert($0.code.rawValue).inserted }
            return (state.refusal, refusedNow, fresh)
        }
        if case .close = outcome {
            // Once per connection, however many checks found it revoked.
            guard refusedNow else { return refusal }
            channel.close(promise: nil)
        }
        report(outcome, newlyReported)
        return refusal
    }

    /// What a re-check means for the connection.
    enum Outcome: Equatable {
        case keep
        /// `required` and revoked: close it; sends fail with this.
        case close(TransportError)
        /// `none`: failed checks let through.
        case bypass
        /// `required`, and the CRL could not be had: the connection stays.
        case unknown
    }

    static func outcome(of verdict: PeerVerdict, policy: ValidationPolicy) -> Outcome {
        guard let failure = verdict.firstFailure else { return .keep }
        if policy == .none { return .bypass }
        guard verdict.failures.contains(where: { $0.code == .revoked }) else { return .unknown }
        let revoked = verdict.failures.first { $0.code == .revoked } ?? failure
        let message = (revoked.problem?.message ?? "revoked") + (revoked.detail.map { " [\($0)]" } ?? "")
        return .close(TransportError(check: CheckCode.revoked.rawValue, message: message))
    }

    private func report(_ outcome: Outcome, _ newlyReported: [CheckResult]) {
        var metadata: Logger.Metadata = ["appliance": "\(appliance)", "partner": "\(partner)"]
        switch outcome {
        case .keep:
            break
        case .close(let refusal):
            metadata["code"] = "\(CheckCode.revoked.rawValue)"
            logger.error("closing the open connection to partner \(partner): a fresh CRL revokes its certificate: \(refusal.message)", metadata: metadata)
            Counter(label: "alertgate_connections_revoked_total", dimensions: [("appliance", appliance), ("partner", partner)], factory: metrics).increment()
        case .bypass:
            for failure in newlyReported {
                metadata["code"] = "\(failure.code.rawValue)"
                Counter(
                    label: "alertgate_validation_bypassed_total", dimensions: [("appliance", appliance), ("partner", partner), ("check", failure.code.rawValue)],
                    factory: metrics
                ).increment()
                logger.warning(
                    "validation policy none: keeping the open connection despite a failed check: \(failure.problem?.message ?? "")\(failure.detail.map { " [\($0)]" } ?? "")",
                    metadata: metadata)
            }
        case .unknown:
            for failure in newlyReported {
                metadata["code"] = "\(failure.code.rawValue)"
                logger.warning(
                    "the open connection to partner \(partner) could not be checked again and stays open; new connections need a current CRL: \(failure.detail ?? "")",
                    metadata: metadata)
            }
        }
    }
}

/// The open partner connections of a running gateway, for CRL refreshes to check again.
public final class PartnerConnections: Sendable {
    private let open = Mutex<[ObjectIdentifier: PartnerConnection]>([:])

    public init() {}

    func add(_ connection: PartnerConnection) {
        let id = ObjectIdentifier(connection)
        open.withLock { $0[id] = connection }
        connection.channel.closeFuture.whenComplete { [weak self] _ in
            _ = self?.open.withLock { $0.removeValue(forKey: id) }
        }
    }

    public var count: Int {
        open.withLock { $0.count }
    }

    /// Checks every open connection's chain against the CRLs held now, each with the
    /// policy `policy` gives for its link (the link's current one; nil keeps the
    /// connection's own), and closes those the policy refuses; returns how many it closed.
    @discardableResult
    public func recheckAll(policy: @escaping @Sendable (_ appliance: String, _ partner: String) -> PeerPolicy?) async -> Int {
        let connections = open.withLock { Array($0.values) }
        return await withTaskGroup(of: Bool.self) { group in
            for connection in connections {
                group.addTask { await connection.recheckNow(with: policy(connection.appliance, connection.partner)) != nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
    }
}
