import AlertGateCore
import AlertGatePKI
import AlertGateTLS
import AlertGateTesting
import Foundation
import NIOCore
import NIOPosix
import Testing

/// The handler in the server role (what the syslog-tls and webhook listeners use), with
/// `openssl s_client` as the independent client.
@Suite struct TLSServerRoleTests {
    let pki: TestPKI

    init() throws {
        pki = try TestPKI()
    }

    /// A TLS echo server on 127.0.0.1 whose client check records the client's CN.
    func startServer(clientAuthentication: TLSConfiguration.ClientAuthentication, seen: LineCollector, checkTakes delay: Duration = .zero) async throws -> any Channel {
        let issued = try pki.issue("gateway", commonName: "gateway.contoso.com")
        let context = try TLSContext(TLSConfiguration(
            role: .server(clientAuthentication: clientAuthentication),
            certificate: try load(issued.certificate)[0],
            privateKey: try PrivateKey.load(from: Array(Data(contentsOf: issued.key)), passphrase: nil),
            chain: try load(pki.chainFile)))
        let anchors = try load(pki.rootCertificate)
        let check: TLSHandler.PeerCheck = { peer in
            try? await Task.sleep(for: delay)
            let policy = PeerPolicy(
                policy: .required, expectation: PeerExpectation(name: nil, trustAnchors: anchors),
                validator: PeerValidator(crlSource: nil))
            return peer.chain.isEmpty ? .accept(nil) : await policy.decide(peer)
        }
        return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            // As the syslog listeners do: a sender's close ends its input, not the connection.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TLSHandler(context: context, peerCheck: check))
                    try channel.pipeline.syncOperations.addHandler(EchoWithPeerName(seen: seen))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    func client(port: Int, certificate: TestPKI.Issued?, closeAtEndOfInput: Bool = false) async throws -> ProcessRunner.Result {
        var arguments = ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", pki.rootCertificate.path, "-verify_return_error", "-quiet"]
        if closeAtEndOfInput { arguments.append("-no_ign_eof") }
        if let certificate {
            arguments += ["-cert", certificate.certificate.path, "-key", certificate.key.path, "-cert_chain", pki.chainFile.path]
        }
        return try await ProcessRunner.captureDetached("/usr/bin/openssl", arguments, input: "ping\n", timeout: 60)
    }

    @Test func requiredClientAuthenticationSeesTheClientsCertificate() async throws {
        let seen = LineCollector()
        let server = try await startServer(clientAuthentication: .required, seen: seen)
        let sensor = try pki.issue("sensor", commonName: "sensor-7.contoso.com")
        let result = try await client(port: server.localAddress!.port!, certificate: sensor)
        #expect(result.standardOutput.contains("pong from sensor-7.contoso.com"), "\(result.standardError)")
        #expect(try await seen.next() == "sensor-7.contoso.com: ping")
        try await server.close()
    }

    @Test func aClientThatSendsAndClosesWhileItIsCheckedStillGetsItsDataRead() async throws {
        let seen = LineCollector()
        let server = try await startServer(clientAuthentication: .required, seen: seen, checkTakes: .milliseconds(500))
        let sensor = try pki.issue("sensor", commonName: "sensor-8.contoso.com")
        // s_client sends its line and closes as soon as its input ends: before the check is done.
        _ = try await client(port: server.localAddress!.port!, certificate: sensor, closeAtEndOfInput: true)
        #expect(try await seen.next() == "sensor-8.contoso.com: ping")
        try await server.close()
    }

    @Test func requiredClientAuthenticationRefusesAClientWithoutCertificate() async throws {
        let seen = LineCollector()
        let server = try await startServer(clientAuthentication: .required, seen: seen)
        let result = try await client(port: server.localAddress!.port!, certificate: nil)
        #expect(!result.standardOutput.contains("pong"))
        #expect(result.standardError.contains("alert"), "\(result.standardError)")
        try await server.close()
    }

    @Test func aClientCertificateFromAnotherCAIsRefused() async throws {
        let seen = LineCollector()
        let server = try await startServer(clientAuthentication: .optional, seen: seen)
        let rogue = try TestPKI(name: "Rogue").issue("sensor", commonName: "sensor-7.contoso.com")
        let result = try await client(port: server.localAddress!.port!, certificate: rogue)
        #expect(!result.standardOutput.contains("pong"))
        try await server.close()
    }
}

/// Answers a line with "pong from CN", reports "CN: line" to the collector, and closes.
final class EchoWithPeerName: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let seen: LineCollector
    private var name = "anonymous"

    init(seen: LineCollector) {
        self.seen = seen
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSEvent, case .handshakeCompleted(let peer, _) = event {
            name = peer.chain.first?.commonName ?? "anonymous"
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let text = buffer.readString(length: buffer.readableBytes) ?? ""
        seen.channelRead(context: context, data: NIOAny(ByteBuffer(string: "\(name): \(text)")))
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "pong from \(name)\n")), promise: nil)
        // TLS close: close_notify goes after the answer.
        context.close(promise: nil)
    }
}
