import AlertGateCore
import AlertGatePKI
import AlertGateRuntime
import AlertGateTLS
import ArgumentParser
import Foundation
import NIOCore
import Synchronization

struct DiagnoseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract: "Open one connection to a partner exactly as `run` would and print every step and check.",
        discussion: "Exits 0 when every step passes, 1 otherwise."
    )

    @OptionGroup var options: LinkOptions

    func run() async throws {
        let (applianceName, link, _, config) = try await options.linkAndConfig()
        let partner = options.partner
        guard let connector = link.connector as? LinkConnector else { throw ExitCode(1) }
        let policy = connector.policy
        let destination = link.destination

        print("partner \(partner) (\(link.partner.transport)) as appliance \(applianceName), validation \(policy.policy.rawValue)")
        var checksFailed = false
        var connectionFailed = false
        // Every check runs and is shown; the appliance's policy decides the verdict below.
        let observing = PeerPolicy(policy: .none, expectation: policy.expectation, validator: policy.validator)
        let refusal = RefusalWatcher()
        let requestsBefore = connector.context.certificateRequests.count
        let started = ContinuousClock.now
        let connection: TLSConnector.Connection
        do {
            connection = try await TLSConnector(context: connector.context).connect(
                host: destination.host, port: destination.port, serverName: connector.serverName, policy: observing
            ) { channel in
                try channel.pipeline.syncOperations.addHandler(refusal)
            }
        } catch {
            switch error {
            case .tcp(_, _, let reason):
                step("TCP", "FAIL", "\(destination.host):\(destination.port): \(reason)")
            case .tls(let tlsError):
                step("TCP", "PASS", "\(destination.host):\(destination.port)")
                step("TLS", "FAIL", tlsError.description)
            }
            throw ExitCode(1)
        }
        let elapsed = ContinuousClock.now - started
        step("TCP", "PASS", "\(destination.host):\(destination.port)")
        step("TLS", "PASS", "\(connection.peer.protocolVersion) \(connection.peer.cipher), \(elapsed.formatted(.units(allowed: [.milliseconds])))")
        if let wanted = destination.applicationProtocols.first {
            let agreed = connection.peer.applicationProtocol
            if agreed == wanted {
                step("ALPN", "PASS", wanted)
            } else {
                step("ALPN", "FAIL", "partner \(partner) does not speak \(LinkConnector.protocolName(wanted)): ALPN agreed on \(agreed ?? "nothing")")
                connectionFailed = true
            }
        }
        if let leaf = connection.peer.chain.first {
            step("peer", "", "\(leaf.subject.description); SAN \(leaf.subjectAlternativeNames.joined(separator: ", ")); until \(CertificateReportRenderer.format(leaf.notAfter))")
        }
        // What the CRL checks below used, and whether their distribution points answer now:
        // the checks may have passed on a cached CRL because a fetch failed.
        let fetches = await CRLReachability(settings: config.store.crl).fetch(connection.peer.chain)
        var crlWarning = false
        for fetch in fetches {
            switch fetch.outcome {
            case .fetched(let detail):
                step("CRL fetch", "PASS", "\(fetch.url): \(detail)")
            case .failed(let reason):
                crlWarning = true
                step("CRL fetch", "WARN", "\(fetch.url): \(reason)")
            }
        }
        for check in connection.verdict?.checks ?? [] {
            switch check.outcome {
            case .passed where check.code == .crlUnreachable && crlWarning:
                step(check.code.rawValue, "WARN", "the CRL check used a cached CRL: fetching it failed (above); the gateway uses its copy until its nextUpdate, then refuses the connection")
            case .passed:
                step(check.code.rawValue, "PASS", check.detail ?? check.code.title)
            case .failed(let problem):
                step(check.code.rawValue, "FAIL", problem.message + (check.detail.map { " [\($0)]" } ?? ""))
                checksFailed = true
            case .skipped(let reason):
                step(check.code.rawValue, "SKIP", reason)
            }
        }
        // Whether the partner asked for a client certificate is known once the handshake is
        // done; TLS 1.3 servers refuse one after the handshake, with an alert.
        let requested = connector.context.certificateRequests.count > requestsBefore
        let presented = connector.context.configuration.certificate
        if let reason = await refusal.refusal(within: requested ? .milliseconds(700) : .zero) {
            step("client cert", "FAIL", "the partner refused the connection: \(reason)")
            connectionFailed = true
        } else if !requested {
            step("client cert", "SKIP", "not requested by the partner: it does not check the appliance's certificate\(presented == nil ? "" : " (none was sent)")")
        } else if let presented {
            step("client cert", "PASS", "requested and sent, not refused within 0.7 s: \(presented.subject.description)")
        } else {
            step("client cert", "FAIL", "requested by the partner, but appliance \(applianceName) has no certificate to present")
            connectionFailed = true
        }
        try? await connection.channel.close()

        switch (checksFailed, connectionFailed, policy.policy) {
        case (false, false, _) where crlWarning:
            print("result: the connection would be made on a cached CRL; its distribution point does not answer")
        case (false, false, _):
            print("result: every step passed")
        case (true, false, .none):
            print("result: checks failed; validation none lets the connection through, logging and counting each failure")
        default:
            print("result: the connection would be refused")
        }
        if checksFailed || connectionFailed || crlWarning { throw ExitCode(1) }
    }

    private func step(_ name: String, _ status: String, _ text: String) {
        print("  " + name.padding(toLength: 16, withPad: " ", startingAt: 0) + status.padding(toLength: 6, withPad: " ", startingAt: 0) + text)
    }
}

/// Notes an error or close that follows the handshake.
final class RefusalWatcher: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private let reason = Mutex<String?>(nil)

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        reason.withLock { $0 = $0 ?? "\(error)" }
    }

    func channelInactive(context: ChannelHandlerContext) {
        reason.withLock { $0 = $0 ?? "the partner closed the connection" }
        context.fireChannelInactive()
    }

    func refusal(within time: Duration) async -> String? {
        let deadline = ContinuousClock.now + time
        while ContinuousClock.now < deadline {
            if let reason = reason.withLock({ $0 }) { return reason }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return reason.withLock { $0 }
    }
}
