import AlertGatePKI
import NIOCore

/// Sent down each open connection of a listener whose settings a reload replaced (a
/// user inbound event): the connection reviews itself against the new settings
/// (`ConnectionReview`) and either carries on with them or finishes its batch and closes.
struct ListenerReconfigured: Sendable {
    let settings: ListenerSettings
    /// The listener's own entry changed (its certificate, client_auth, limits…): every
    /// connection closes after its batch, and its sender reconnects to the new settings.
    let entryChanged: Bool
}

/// What a reload means for one open connection: a pure decision, apart from the I/O.
///
/// A connection stays when the reload changes nothing it was admitted under: the same
/// listener entry, and the sender still attributed to the same appliance with the same
/// policy. A TLS client under `required` then has its certificate checked again against
/// the new trust and CRLs (that is how a revoked sensor is cut off). Anything else closes
/// the connection once the batch it has with the intake is stored: nothing acknowledged
/// is lost, and the sender reconnects to be admitted afresh.
enum ConnectionReview: Equatable {
    case keep
    /// Keep it, and check its client certificate again.
    case recheck
    case close(reason: String)

    /// - Parameters:
    ///   - entryChanged: the listener's own entry changed (`ListenerReconfigured`).
    ///   - attribution: how the listener recognises senders from now on.
    ///   - checksCertificates: the listener is a TLS one (it can check client certificates).
    ///   - commonName: the client certificate's CN, if it presented one.
    ///   - admitted: the appliance the connection was attributed to (nil while a TLS
    ///     handshake is still going on).
    static func review(
        entryChanged: Bool, attribution: ApplianceAttribution, checksCertificates: Bool,
        commonName: String?, remote: SocketAddress?, admitted: ApplianceAttribution.Attributed?, hasClientCertificate: Bool
    ) -> ConnectionReview {
        if entryChanged {
            return .close(reason: "the listener's entry changed")
        }
        guard let admitted else {
            // A TLS connection not yet attributed is in its handshake, whose peer check has
            // the previous trust, CRLs and appliances: it starts again under the new ones.
            // (Nothing it sent was acknowledged yet.) A plain one is attributed on opening.
            return checksCertificates ? .close(reason: "its TLS handshake was checked under the previous settings") : .keep
        }
        guard let now = attribution.appliance(commonName: commonName, address: remote) else {
            return .close(reason: "it no longer matches any appliance (was \(admitted.appliance))")
        }
        if now.appliance != admitted.appliance {
            return .close(reason: "it now matches appliance \(now.appliance) (was \(admitted.appliance))")
        }
        if now.validation != admitted.validation {
            return .close(reason: "appliance \(now.appliance)'s validation changed to \(now.validation.rawValue)")
        }
        return hasClientCertificate && now.validation == .required && checksCertificates ? .recheck : .keep
    }
}

extension ListenerReconfigured {
    /// Reviews one connection (on its event loop) and acts on the outcome: returns the
    /// environment it carries on with, and calls `close` when it must finish and close —
    /// now, or once its client certificate failed the check made again.
    func settle(
        clientChain: [X509Certificate], remote: SocketAddress?, admitted: ApplianceAttribution.Attributed?, current: ListenerEnvironment,
        context: ChannelHandlerContext, close: @escaping () -> Void
    ) -> ListenerEnvironment {
        let review = ConnectionReview.review(
            entryChanged: entryChanged, attribution: settings.environment.attribution, checksCertificates: settings.tls != nil,
            commonName: clientChain.first?.commonName, remote: remote, admitted: admitted, hasClientCertificate: !clientChain.isEmpty)
        switch review {
        case .close(let reason):
            let peer = ListenerEnvironment.describe(remote)
            current.logger.info(
                "listener \(current.name): closing the connection of \(peer) once what it sent is stored: \(reason)",
                metadata: ["listener": "\(current.name)", "peer": "\(peer)"])
            close()
            return current
        case .keep:
            return settings.environment
        case .recheck:
            guard let tls = settings.tls, let admitted else { return settings.environment }
            let environment = settings.environment
            context.eventLoop.makeFutureWithTask { await tls.stillAdmits(clientChain, of: admitted, remote: remote, environment: environment) }
                .assumeIsolated()
                .whenSuccess { admits in
                    if !admits { close() }
                }
            return environment
        }
    }
}
