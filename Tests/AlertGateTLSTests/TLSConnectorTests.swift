import AlertGateCore
import AlertGatePKI
import AlertGateTLS
import AlertGateTesting
import Foundation
import NIOCore
import NIOPosix
import Testing

/// Outbound TLS against `openssl s_server`: mutual TLS, ALPN, and the validation matrix of
/// docs/reference.md §6 under both policies, with certificates made by the openssl CLI.
@Suite struct TLSConnectorTests {
    let pki: TestPKI
    let appliance: TLSContext

    init() throws {
        pki = try TestPKI()
        let issued = try pki.issue("appliance", commonName: "sensor-1.contoso.com")
        appliance = try TLSContext(TLSConfiguration(
            role: .client,
            certificate: try load(issued.certificate)[0],
            privateKey: try PrivateKey.load(from: Array(Data(contentsOf: issued.key)), passphrase: nil),
            chain: try load(pki.chainFile)))
    }

    func policy(_ policy: ValidationPolicy, name: String = "siem.contoso.com", trust: [X509Certificate]? = nil, crls: (any CRLSource)? = nil) throws -> PeerPolicy {
        PeerPolicy(
            policy: policy,
            expectation: PeerExpectation(name: name, trustAnchors: try trust ?? load(pki.rootCertificate)),
            validator: PeerValidator(crlSource: crls ?? CRLCache(fetcher: HTTPCRLFetcher(timeout: .seconds(2)), directory: nil)))
    }

    func partner(_ options: TestPKI.Options, from issuer: TestPKI? = nil) async throws -> OpenSSLServer {
        let issuer = issuer ?? pki
        let issued = try issuer.issue("partner-\(UUID().uuidString.prefix(8))", options)
        return try await OpenSSLServer(certificate: issued.certificate, key: issued.key, chain: issuer.chainFile, clientCA: pki.rootCertificate)
    }

    @Test func mutualTLSCarriesDataAndPresentsTheApplianceCertificate() async throws {
        let server = try await partner(TestPKI.Options(commonName: "siem.contoso.com"))
        let lines = LineCollector()
        let connection = try await TLSConnector(context: appliance).connect(
            host: "127.0.0.1", port: server.port, serverName: "siem.contoso.com", policy: try policy(.required)
        ) { channel in
            try channel.pipeline.syncOperations.addHandler(lines)
        }
        #expect(connection.verdict?.passed == true)
        #expect(connection.peer.chain.first?.commonName == "siem.contoso.com")
        #expect(["TLSv1.3", "TLSv1.2"].contains(connection.peer.protocolVersion))

        try await connection.channel.writeAndFlush(ByteBuffer(string: "alert one\n"))
        #expect(try await lines.next() == "eno trela")
        try await connection.channel.close()
        // The server checked our client certificate against its CA and logged its subject.
        #expect(server.output.contains("CN = sensor-1.contoso.com"))
        #expect(server.output.contains("verify return:1"))
    }

    @Test func alpnIsNegotiated() async throws {
        let issued = try pki.issue("alpn", commonName: "siem.contoso.com")
        let server = try await OpenSSLServer(certificate: issued.certificate, key: issued.key, chain: pki.chainFile, alpn: "h2")
        let context = try TLSContext(TLSConfiguration(role: .client, applicationProtocols: ["h2"]))
        let connection = try await TLSConnector(context: context).connect(host: "127.0.0.1", port: server.port, serverName: "siem.contoso.com", policy: try policy(.required))
        #expect(connection.peer.applicationProtocol == "h2")
        try await connection.channel.close()
    }

    // MARK: The validation matrix

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var code: CheckCode
        var testDescription: String { name }
    }

    static let matrix: [Case] = [
        Case(name: "wrong name", code: .nameMismatch),
        Case(name: "expired", code: .expired),
        Case(name: "revoked", code: .revoked),
        Case(name: "another CA", code: .chain),
        Case(name: "CRL server down", code: .crlUnreachable),
    ]

    /// Starts a partner whose certificate fails `code`, and the CRL source it needs.
    func brokenPartner(_ code: CheckCode) async throws -> (OpenSSLServer, any CRLSource, FileHTTPServer?) {
        var options = TestPKI.Options(commonName: "siem.contoso.com")
        let cache = CRLCache(fetcher: HTTPCRLFetcher(timeout: .seconds(2)), directory: nil)
        switch code {
        case .nameMismatch:
            options = TestPKI.Options(commonName: "other.contoso.com")
        case .expired:
            options.startDate = TestPKI.caDate(daysFromNow: -60)
            options.endDate = TestPKI.caDate(daysFromNow: -1)
        case .chain:
            return (try await partner(options, from: try TestPKI(name: "Rogue")), cache, nil)
        case .revoked, .crlUnreachable:
            let folder = pki.directory.appendingPathComponent("www-\(UUID().uuidString.prefix(6))")
            try pki.writeCRL(to: folder.appendingPathComponent("issuing.crl"))
            let crlServer = try await FileHTTPServer(directory: folder)
            options.crlURL = crlServer.url(for: "issuing.crl")
            let issued = try pki.issue("partner-\(code.rawValue)", options)
            if code == .revoked {
                try pki.revoke(issued)
                try pki.writeCRL(to: folder.appendingPathComponent("issuing.crl"))
            } else {
                try await crlServer.stop()
            }
            let server = try await OpenSSLServer(certificate: issued.certificate, key: issued.key, chain: pki.chainFile, clientCA: pki.rootCertificate)
            return (server, cache, crlServer)
        default:
            Issue.record("no broken partner for \(code)")
        }
        return (try await partner(options), cache, nil)
    }

    @Test(arguments: matrix)
    func requiredRefusesTheBrokenPartnerWithTheCheckMessage(_ broken: Case) async throws {
        let (server, crls, crlServer) = try await brokenPartner(broken.code)
        defer { Task { try? await crlServer?.stop() } }
        let required = try policy(.required, crls: crls)
        let verdict: PeerVerdict
        do throws(TLSConnector.Failure) {
            let connection = try await TLSConnector(context: appliance).connect(
                host: "127.0.0.1", port: server.port, serverName: "siem.contoso.com", policy: required)
            try? await connection.channel.close()
            Issue.record("connected to a partner whose certificate fails \(broken.code)")
            return
        } catch {
            guard case .tls(.peerRefused(let refused)) = error else {
                Issue.record("expected a refusal, got \(error)")
                return
            }
            verdict = refused
        }
        do {
            let failure = try #require(verdict.firstFailure)
            #expect(failure.code == broken.code)
            #expect(verdict.failures.map(\.code) == [broken.code], "\(verdict.failures)")
            let expected = broken.code == .nameMismatch
                ? "The certificate does not match the expected name siem.contoso.com: it holds CN=other.contoso.com, SAN=DNS:other.contoso.com."
                : try #require(CertificateProblem.allSimple.first { $0.code == broken.code }).message
            #expect(failure.problem?.message == expected)
        }
    }

    @Test(arguments: matrix)
    func noneConnectsToTheBrokenPartnerAndReportsTheFailedCheck(_ broken: Case) async throws {
        let (server, crls, crlServer) = try await brokenPartner(broken.code)
        defer { Task { try? await crlServer?.stop() } }
        let lines = LineCollector()
        let connection = try await TLSConnector(context: appliance).connect(
            host: "127.0.0.1", port: server.port, serverName: "siem.contoso.com", policy: try policy(.none, crls: crls)
        ) { channel in
            try channel.pipeline.syncOperations.addHandler(lines)
        }
        #expect(connection.verdict?.failures.map(\.code) == [broken.code])
        try await connection.channel.writeAndFlush(ByteBuffer(string: "still encrypted\n"))
        #expect(try await lines.next() == "detpyrcne llits")
        try await connection.channel.close()
    }

    @Test func aServerThatRequiresAClientCertificateRefusesOneWithout() async throws {
        let server = try await partner(TestPKI.Options(commonName: "siem.contoso.com"))
        let anonymous = try TLSContext(TLSConfiguration(role: .client))
        let lines = LineCollector()
        do {
            let connection = try await TLSConnector(context: anonymous).connect(
                host: "127.0.0.1", port: server.port, serverName: "siem.contoso.com", policy: try policy(.required)
            ) { channel in
                try channel.pipeline.syncOperations.addHandler(lines)
            }
            // TLS 1.3: the server's refusal arrives after our side finished the handshake.
            try? await connection.channel.writeAndFlush(ByteBuffer(string: "hello\n"))
            let error = try #require(await lines.error())
            #expect("\(error)".contains("certificate required"), "\(error)")
        } catch {
            #expect("\(error)".contains("certificate"), "\(error)")
        }
    }
}

extension CertificateProblem {
    /// The problems whose message takes no parameters.
    static let allSimple: [CertificateProblem] = [
        .unreadable, .passphrase, .keyMismatch, .weakKey, .signature, .wildcard, .expired, .notYetValid, .chain, .revoked, .crlUnreachable,
    ]
}

func load(_ file: URL) throws -> [X509Certificate] {
    try X509Certificate.certificates(from: Array(Data(contentsOf: file)))
}

/// Collects newline-terminated lines (and the first error) from a channel.
final class LineCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    private let lock = NSLock()
    private var buffer = ""
    private var lines: [String] = []
    private var failure: (any Error)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        let text = bytes.readString(length: bytes.readableBytes) ?? ""
        lock.withLock {
            buffer += text
            while let newline = buffer.firstIndex(of: "\n") {
                lines.append(String(buffer[..<newline]))
                buffer = String(buffer[buffer.index(after: newline)...])
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        lock.withLock { failure = failure ?? error }
        context.fireErrorCaught(error)
    }

    /// The next line; throws after 10 s.
    func next() async throws -> String {
        for _ in 0..<1000 {
            if let line = lock.withLock({ lines.isEmpty ? nil : lines.removeFirst() }) { return line }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw CancellationError()
    }

    /// The first error the channel reported, waiting up to 10 s for one.
    func error() async -> (any Error)? {
        for _ in 0..<1000 {
            if let failure = lock.withLock({ failure }) { return failure }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }
}
