import AlertGateConfig
import AlertGatePKI
import AlertGateTLS
import Logging
import NIOCore

/// The TLS side of a syslog-tls or webhook listener: the server context made from the
/// store certificate the listener names, and the check of client certificates.
///
/// A client certificate is checked like a partner's (docs/reference.md §6: chain to the store's trust
/// bundles, validity, CRL; no name check, as the CN is how the client is recognised) under
/// the policy of the appliance it is attributed to: `required` refuses before any data
/// moves, `none` lets it in and logs and counts each failed check once per connection.
struct ListenerTLS: Sendable {
    let context: TLSContext
    /// Every `store.trust` bundle: a sensor may be issued by any CA the gateway trusts.
    let trustAnchors: [X509Certificate]
    /// The bundles' local CRL files, for client certificates that name no distribution point.
    let revocationLists: [CertificateRevocationList]
    let validator: PeerValidator

    init(listener: ListenerConfig, store: CertificateStore, crlSource: any CRLSource) throws(ListenerError) {
        guard let name = listener.certificate else {
            throw ListenerError.configuration(listener: listener.name, "a \(listener.protocol.rawValue) listener needs a certificate")
        }
        guard let item = store.item(named: name), item.isValid, let certificate = item.certificate, let key = item.key else {
            let reason = store.item(named: name)?.firstFailure?.problem?.message ?? "it is not in the store"
            throw ListenerError.configuration(listener: listener.name, "certificate \(name) cannot be used: \(reason)")
        }
        let clientAuthentication: TLSConfiguration.ClientAuthentication =
            switch listener.clientAuth {
            case .required: .required
            case .optional: .optional
            case .none: .none
            }
        let context: TLSContext
        do {
            context = try TLSContext(TLSConfiguration(
                role: .server(clientAuthentication: clientAuthentication), certificate: certificate, privateKey: key, chain: item.chain))
        } catch {
            throw ListenerError.configuration(listener: listener.name, "\(error)")
        }
        self.init(context: context, store: store, crlSource: crlSource)
    }

    private init(context: TLSContext, store: CertificateStore, crlSource: any CRLSource) {
        self.context = context
        trustAnchors = store.trustBundles.flatMap(\.certificates)
        revocationLists = store.trustBundles.flatMap(\.revocationLists)
        validator = PeerValidator(crlSource: crlSource)
    }

    /// The same server side with the trust bundles and CRLs of `store`: for a listener whose
    /// own certificate the store no longer accepts (it expired since the start), so that its
    /// clients are still checked against the newest CRLs.
    func trusting(_ store: CertificateStore, crlSource: any CRLSource) -> ListenerTLS {
        ListenerTLS(context: context, store: store, crlSource: crlSource)
    }

    /// The check of one connection's client, made when the connection is accepted (it
    /// knows the peer's address, the second way of recognising a sender).
    func peerCheck(remote: SocketAddress?, environment: ListenerEnvironment) -> TLSHandler.PeerCheck {
        return { peer in
            let peerText = ListenerEnvironment.describe(remote)
            guard let leaf = peer.chain.first else {
                // No certificate (client_auth optional or none). An appliance under
                // `required` admits no one without one, whatever matched it (docs/reference.md §11): the
                // missing certificate fails the chain check, logged and counted as any
                // failed check. Otherwise the handler attributes it by address or default,
                // or closes it.
                guard let attributed = environment.attribution.appliance(commonName: nil, address: remote), attributed.validation == .required else {
                    return .accept(nil)
                }
                return .refuse(await check([], of: attributed, from: peerText, environment: environment, refusal: .atHandshake))
            }
            let commonName = leaf.commonName
            guard let attributed = environment.attribution.appliance(commonName: commonName, address: remote) else {
                environment.problem(
                    .unattributed, peer: peerText,
                    "refused the client certificate CN=\(commonName ?? "(none)") from \(peerText): it matches no appliance, the address matches none and the listener has no default_appliance",
                    level: .error)
                let verdict = PeerVerdict(checks: [.failed(.chain, detail: "CN=\(commonName ?? "(none)") matches no appliance")], certificate: leaf)
                return .refuse(verdict)
            }
            let verdict = await check(peer.chain, of: attributed, from: peerText, environment: environment, refusal: .atHandshake)
            return verdict.passed || attributed.validation == .none ? .accept(verdict) : .refuse(verdict)
        }
    }

    /// Checks an open connection's client certificate again, after a reload or a CRL
    /// refresh: false when its appliance's `required` policy no longer admits it (logged and
    /// counted like a refusal at the handshake).
    func stillAdmits(_ chain: [X509Certificate], of attributed: ApplianceAttribution.Attributed, remote: SocketAddress?, environment: ListenerEnvironment) async -> Bool {
        let verdict = await check(chain, of: attributed, from: ListenerEnvironment.describe(remote), environment: environment, refusal: .openConnection)
        return verdict.passed || attributed.validation == .none
    }

    /// When a client certificate is refused: a new connection's handshake, or an open
    /// connection checked again. Each is its own reason in the rate-limited log, so that a
    /// sender cut off by a recheck and refused when it reconnects is logged both times.
    private enum Refusal {
        case atHandshake
        case openConnection

        var kind: String { self == .atHandshake ? "client-refused" : "client-closed" }
        var words: String { self == .atHandshake ? "refused" : "closing the open connection of" }
    }

    /// Validates a client chain, and logs and counts the outcome under the appliance's
    /// policy: `required` refuses on the first failure, `none` logs each one.
    private func check(
        _ chain: [X509Certificate], of attributed: ApplianceAttribution.Attributed, from peerText: String, environment: ListenerEnvironment, refusal: Refusal
    ) async -> PeerVerdict {
        let expectation = PeerExpectation(name: nil, trustAnchors: trustAnchors, localRevocationLists: revocationLists)
        let verdict = await validator.validate(chain: chain, expecting: expectation)
        if verdict.passed { return verdict }
        let who = chain.first.map { "the client certificate CN=\($0.commonName ?? "(none)")" } ?? "the client without a certificate"
        var metadata: Logger.Metadata = [
            "listener": "\(environment.name)", "peer": "\(peerText)", "appliance": "\(attributed.appliance)",
        ]
        if attributed.validation == .required {
            let failure = verdict.firstFailure!
            environment.metrics.countRefused(appliance: attributed.appliance, check: failure.code.rawValue)
            metadata["code"] = "\(failure.code.rawValue)"
            // Once a second per listener whatever the number of senders refused (docs/reference.md §11).
            environment.log(
                refusal.kind, peer: peerText,
                "\(refusal.words) \(who) from \(peerText) (appliance \(attributed.appliance), validation required): \(failure.problem?.message ?? "")\(failure.detail.map { " [\($0)]" } ?? "")",
                level: .error, metadata: metadata)
            return verdict
        }
        for failure in verdict.failures {
            environment.metrics.countBypassed(appliance: attributed.appliance, check: failure.code.rawValue)
            metadata["code"] = "\(failure.code.rawValue)"
            environment.log(
                "client-bypassed", peer: peerText,
                "validation policy none: accepting \(who) from \(peerText) despite a failed check: \(failure.problem?.message ?? "")\(failure.detail.map { " [\($0)]" } ?? "")",
                level: .warning, metadata: metadata)
        }
        return verdict
    }
}
