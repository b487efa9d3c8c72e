import AlertGatePKI
import AlertGateTLS
import AlertGateTesting
import Foundation
import NIOCore
import NIOPosix
import Testing

/// TLS 1.2 offers forward-secret AEAD suites only, in both roles: a static-RSA suite such
/// as AES128-SHA (the system default still has it) is refused either way.
@Suite struct TLSCipherTests {
    let pki: TestPKI

    init() throws {
        pki = try TestPKI()
    }

    func serverContext() throws -> TLSContext {
        let issued = try pki.issue("gateway", commonName: "gateway.contoso.com")
        return try TLSContext(TLSConfiguration(
            role: .server(clientAuthentication: .none),
            certificate: try load(issued.certificate)[0],
            privateKey: try PrivateKey.load(from: Array(Data(contentsOf: issued.key)), passphrase: nil),
            chain: try load(pki.chainFile)))
    }

    /// `openssl s_client` with `extra` arguments against a TLSHandler server that answers
    /// "pong" and closes (the client waits for that: `-ign_eof`); what the client printed.
    func client(_ extra: [String], server context: TLSContext) async throws -> ProcessRunner.Result {
        let seen = LineCollector()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TLSHandler(context: context))
                    try channel.pipeline.syncOperations.addHandler(EchoWithPeerName(seen: seen))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        defer { server.close(promise: nil) }
        let arguments = ["s_client", "-connect", "127.0.0.1:\(server.localAddress!.port!)", "-CAfile", pki.rootCertificate.path, "-brief", "-ign_eof"] + extra
        return try await ProcessRunner.captureDetached("/usr/bin/openssl", arguments, input: "ping\n", timeout: 60)
    }

    @Test func aListenerRefusesAES128SHAAndNegotiatesECDHEUnderTLS12() async throws {
        let context = try serverContext()
        let refused = try await client(["-tls1_2", "-cipher", "AES128-SHA"], server: context)
        #expect(!refused.standardOutput.contains("pong"), "\(refused.standardOutput)")
        #expect(refused.standardError.contains("handshake failure"), "\(refused.standardError)")

        let agreed = try await client(["-tls1_2"], server: context)
        #expect(agreed.standardOutput.contains("pong"), "\(agreed.standardError)")
        #expect(agreed.standardError.contains("Ciphersuite: ECDHE-"), "\(agreed.standardError)")
    }

    @Test func theClientRefusesAServerThatOffersOnlyAES128SHA() async throws {
        let issued = try pki.issue("siem", commonName: "siem.contoso.com")
        let server = try await OpenSSLServer(
            certificate: issued.certificate, key: issued.key, chain: pki.chainFile, extraArguments: ["-tls1_2", "-cipher", "AES128-SHA"])
        let connector = TLSConnector(context: try TLSContext(TLSConfiguration(role: .client)))
        do throws(TLSConnector.Failure) {
            let connection = try await connector.connect(
                host: "127.0.0.1", port: server.port, serverName: "siem.contoso.com", policy: nil)
            try? await connection.channel.close()
            Issue.record("connected with \(connection.peer.cipher)")
        } catch {
            guard case .tls(.handshakeFailed(let reason)) = error else {
                Issue.record("expected a handshake failure, got \(error)")
                return
            }
            #expect(reason.contains("handshake failure"), "\(reason)")
        }
        server.stop()
    }
}
