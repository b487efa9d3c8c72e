import AlertGatePKI
import AlertGateTesting
import Foundation
import Testing

/// Each section-5 check against certificates made by the openssl CLI, with a real CRL
/// distribution point on a loopback HTTP server.
@Suite struct CertificateCheckerTests {
    let pki: TestPKI

    init() throws {
        pki = try TestPKI()
    }

    func check(_ issued: TestPKI.Issued, chain: URL? = nil, passphrase: String? = nil, useCRL: Bool = false, crls: (any CRLSource)? = nil) async throws -> CertificateReport {
        let files = CertificateFiles(
            certificate: issued.certificate.path, key: issued.key.path, chain: (chain ?? pki.chainFile).path,
            passphrase: passphrase, useCRL: useCRL)
        return await CertificateChecker(crlSource: crls).check(files)
    }

    /// The report refuses the certificate for exactly `problem`, with its exact message.
    func expectRefused(_ report: CertificateReport, _ problem: CertificateProblem, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!report.isValid, sourceLocation: sourceLocation)
        #expect(report.problems == [problem], "failures: \(report.checks.filter(\.isFailure))", sourceLocation: sourceLocation)
        #expect(report.problems.first?.message == message, sourceLocation: sourceLocation)
        #expect(report.problems.first?.code.rawValue == problem.code.rawValue, sourceLocation: sourceLocation)
    }

    // MARK: Accepted

    @Test func validCertificateWithKeyAndChainPassesEveryCheck() async throws {
        let issued = try pki.issue("sensor-1", commonName: "sensor-1.contoso.com")
        let report = try await check(issued)
        #expect(report.isValid, "failures: \(report.checks.filter(\.isFailure))")
        let passed = report.checks.filter { $0.outcome == .passed }.map(\.code)
        #expect(passed == [.unreadable, .passphrase, .keyMismatch, .weakKey, .signature, .wildcard, .expired, .notYetValid, .chain])
        #expect(report.certificate?.commonName == "sensor-1.contoso.com")
        #expect(report.certificate?.subjectAlternativeNames == ["DNS:sensor-1.contoso.com"])
        #expect(report.chain.count == 2)
    }

    @Test func rsa4096IsAccepted() async throws {
        var options = TestPKI.Options(commonName: "big.contoso.com")
        options.keyType = .rsa(bits: 4096)
        let report = try await check(try pki.issue("big", options))
        #expect(report.isValid)
        #expect(report.certificate?.publicKey.description == "RSA 4096")
    }

    @Test(arguments: [
        TestPKI.KeyFormat.pkcs1, .der, .pkcs8Encrypted(passphrase: "s3cret pass"), .legacyEncrypted(passphrase: "s3cret pass"),
    ])
    func everyKeyFormatLoads(format: TestPKI.KeyFormat) async throws {
        var options = TestPKI.Options(commonName: "keys.contoso.com")
        options.keyFormat = format
        let report = try await check(try pki.issue("keys", options), passphrase: "s3cret pass")
        #expect(report.isValid, "failures: \(report.checks.filter(\.isFailure))")
        #expect(report.key != nil)
    }

    @Test func derCertificateAndBagAttributesChainAreRead() async throws {
        var options = TestPKI.Options(commonName: "der.contoso.com")
        options.derCertificate = true
        let issued = try pki.issue("der", options)
        // A chain exported from a PKCS#12 bundle carries "Bag Attributes" lines around the blocks.
        let exported = pki.directory.appendingPathComponent("bagged-chain.pem")
        let intermediate = try String(contentsOf: pki.intermediateCertificate, encoding: .utf8)
        let root = try String(contentsOf: pki.rootCertificate, encoding: .utf8)
        try """
            Bag Attributes
                friendlyName: Test Issuing CA
            subject=/C=US/O=Test PKI/CN=Test Issuing CA
            issuer=/C=US/O=Test PKI/CN=Test Root CA
            \(intermediate)Bag Attributes
                friendlyName: Test Root CA
            \(root)
            """.write(to: exported, atomically: true, encoding: .utf8)
        let report = try await check(issued, chain: exported)
        #expect(report.isValid, "failures: \(report.checks.filter(\.isFailure))")
        #expect(report.chain.map { $0.commonName } == ["Test Issuing CA", "Test Root CA"])
    }

    // MARK: Refused, one per check

    @Test func unreadableCertificate() async throws {
        let garbage = pki.directory.appendingPathComponent("garbage.crt")
        try "this is not a certificate\n".write(to: garbage, atomically: true, encoding: .utf8)
        let report = await CertificateChecker().check(CertificateFiles(certificate: garbage.path))
        expectRefused(report, .unreadable, "The file is not a certificate (or key) in PEM or DER format.")
        #expect(report.checks.filter { if case .skipped = $0.outcome { true } else { false } }.count == CheckCode.importChecks.count - 1)
    }

    @Test func unreadableKey() async throws {
        let issued = try pki.issue("badkey", commonName: "badkey.contoso.com")
        try pki.rootCertificate.path.write(to: issued.key, atomically: true, encoding: .utf8)
        let report = try await check(issued)
        expectRefused(report, .unreadable, "The file is not a certificate (or key) in PEM or DER format.")
        #expect(report.checks.first?.detail?.contains(issued.key.path) == true)
    }

    @Test(arguments: [
        TestPKI.KeyFormat.pkcs8Encrypted(passphrase: "right"), .legacyEncrypted(passphrase: "right"),
    ])
    func wrongPassphrase(format: TestPKI.KeyFormat) async throws {
        var options = TestPKI.Options(commonName: "locked.contoso.com")
        options.keyFormat = format
        let issued = try pki.issue("locked", options)
        expectRefused(try await check(issued, passphrase: "wrong"), .passphrase, "Passphrase does not match to the key")
        expectRefused(try await check(issued, passphrase: nil), .passphrase, "Passphrase does not match to the key")
    }

    @Test func chainOfAnotherCA() async throws {
        let other = try TestPKI(name: "Other")
        let issued = try other.issue("foreign", commonName: "foreign.contoso.com")
        let report = try await check(issued, chain: pki.chainFile)
        expectRefused(report, .chain, "Cannot validate chain of trust. The provided Certificate and Root CA don't match.")
    }

    @Test func expired() async throws {
        var options = TestPKI.Options(commonName: "old.contoso.com")
        options.startDate = TestPKI.caDate(daysFromNow: -400)
        options.endDate = TestPKI.caDate(daysFromNow: -35)
        let report = try await check(try pki.issue("old", options))
        expectRefused(report, .expired, "This SSL certificate has expired and isn't considered valid.")
    }

    @Test func notYetValid() async throws {
        var options = TestPKI.Options(commonName: "future.contoso.com")
        options.startDate = TestPKI.caDate(daysFromNow: 10)
        options.endDate = TestPKI.caDate(daysFromNow: 400)
        let report = try await check(try pki.issue("future", options))
        expectRefused(report, .notYetValid, "This SSL certificate is not yet valid.")
    }

    @Test func keyOfAnotherCertificate() async throws {
        let first = try pki.issue("first", commonName: "first.contoso.com")
        var second = try pki.issue("second", commonName: "second.contoso.com")
        second.key = first.key
        expectRefused(try await check(second), .keyMismatch, "The private key does not match the certificate.")
    }

    @Test func weakRSAKey() async throws {
        var options = TestPKI.Options(commonName: "weak.contoso.com")
        options.keyType = .rsa(bits: 1024)
        let report = try await check(try pki.issue("weak", options))
        expectRefused(report, .weakKey, "The public key must be RSA 2048 bits or more.")
        #expect(report.checks.first { $0.code == .weakKey }?.detail == "the key is RSA 1024")
    }

    @Test func ecKeyIsNotRSA() async throws {
        var options = TestPKI.Options(commonName: "ec.contoso.com")
        options.keyType = .ecP256
        let report = try await check(try pki.issue("ec", options))
        expectRefused(report, .weakKey, "The public key must be RSA 2048 bits or more.")
    }

    @Test(arguments: ["sha1", "sha384"])
    func signatureOtherThanSHA256RSA(digest: String) async throws {
        var options = TestPKI.Options(commonName: "\(digest).contoso.com")
        options.digest = digest
        let report = try await check(try pki.issue(digest, options))
        expectRefused(report, .signature, "The certificate must be signed with SHA256RSA.")
    }

    @Test func wildcardCommonName() async throws {
        let report = try await check(try pki.issue("wild", commonName: "*.contoso.com"))
        expectRefused(report, .wildcard, "Wildcard certificates are not supported. Each appliance needs a certificate for its own name.")
    }

    // MARK: CRL

    @Test func revokedByItsCRL() async throws {
        let crlFolder = pki.directory.appendingPathComponent("www")
        try pki.writeCRL(to: crlFolder.appendingPathComponent("issuing.crl"))
        let server = try await FileHTTPServer(directory: crlFolder)
        defer { Task { try await server.stop() } }
        let issued = try pki.issue("revoked", commonName: "revoked.contoso.com", crlURL: server.url(for: "issuing.crl"))
        try pki.revoke(issued)
        try pki.writeCRL(to: crlFolder.appendingPathComponent("issuing.crl"))
        let cache = CRLCache(fetcher: HTTPCRLFetcher(), directory: nil)
        let report = try await check(issued, useCRL: true, crls: cache)
        expectRefused(report, .revoked, "This certificate has been revoked by the CRL and can't be trusted for a secure connection")
        #expect(server.requests(for: "issuing.crl") == 1)
    }

    @Test func crlServerDown() async throws {
        let crlFolder = pki.directory.appendingPathComponent("www")
        let server = try await FileHTTPServer(directory: crlFolder)
        let url = server.url(for: "issuing.crl")
        try await server.stop()
        let issued = try pki.issue("lonely", commonName: "lonely.contoso.com", crlURL: url)
        let report = try await check(issued, useCRL: true, crls: CRLCache(fetcher: HTTPCRLFetcher(timeout: .seconds(2)), directory: nil))
        expectRefused(report, .crlUnreachable, "The CRL (Certificate Revocation List) location is not reachable. Verify the URL can be accessed from this appliance")
        #expect(report.checks.first { $0.code == .crlUnreachable }?.detail?.contains(url) == true)
    }

    @Test func crlOverHTTPSIsRefused() async throws {
        let issued = try pki.issue("https-crl", commonName: "https-crl.contoso.com", crlURL: "https://127.0.0.1:9/issuing.crl")
        let report = try await check(issued, useCRL: true, crls: CRLCache(fetcher: HTTPCRLFetcher(), directory: nil))
        expectRefused(report, .crlUnreachable, CertificateProblem.crlUnreachable.message)
        #expect(report.checks.first { $0.code == .crlUnreachable }?.detail?.contains("only http://") == true)
    }

    @Test func missingCRLFileOnTheServer() async throws {
        let server = try await FileHTTPServer(directory: pki.directory.appendingPathComponent("empty"))
        defer { Task { try await server.stop() } }
        let issued = try pki.issue("404", commonName: "nocrl.contoso.com", crlURL: server.url(for: "issuing.crl"))
        let report = try await check(issued, useCRL: true, crls: CRLCache(fetcher: HTTPCRLFetcher(), directory: nil))
        expectRefused(report, .crlUnreachable, CertificateProblem.crlUnreachable.message)
        #expect(report.checks.first { $0.code == .crlUnreachable }?.detail?.contains("404") == true)
    }

    @Test func revokedAfterAFirstSuccessfulCheckIsRefusedOnceTheCRLIsRefetched() async throws {
        let crlFolder = pki.directory.appendingPathComponent("www")
        let crlFile = crlFolder.appendingPathComponent("issuing.crl")
        try pki.writeCRL(to: crlFile)
        let server = try await FileHTTPServer(directory: crlFolder)
        defer { Task { try await server.stop() } }
        let issued = try pki.issue("rotating", commonName: "rotating.contoso.com", crlURL: server.url(for: "issuing.crl"))
        let cacheFolder = pki.directory.appendingPathComponent("crl-cache")
        let clock = TestClock()
        let cache = CRLCache(fetcher: HTTPCRLFetcher(), directory: cacheFolder, maxAge: .seconds(60), now: { clock.now })

        let first = try await check(issued, useCRL: true, crls: cache)
        #expect(first.isValid, "failures: \(first.checks.filter(\.isFailure))")

        try pki.revoke(issued)
        try pki.writeCRL(to: crlFile)
        // Within max_age the cached CRL answers, without asking the server again.
        let cached = try await check(issued, useCRL: true, crls: cache)
        #expect(cached.isValid)
        #expect(server.requests(for: "issuing.crl") == 1)

        clock.advance(by: 61)
        let refetched = try await check(issued, useCRL: true, crls: cache)
        expectRefused(refetched, .revoked, CertificateProblem.revoked.message)
        #expect(server.requests(for: "issuing.crl") == 2)
        // The CRL is kept on disk for the next start.
        #expect(try FileManager.default.contentsOfDirectory(atPath: cacheFolder.path).count == 1)
    }

    @Test func crlPastItsNextUpdateIsFetchedAgain() async throws {
        let crlFolder = pki.directory.appendingPathComponent("www")
        let crlFile = crlFolder.appendingPathComponent("issuing.crl")
        try pki.writeCRL(to: crlFile, hours: 1)
        let server = try await FileHTTPServer(directory: crlFolder)
        defer { Task { try await server.stop() } }
        let issued = try pki.issue("next", commonName: "next.contoso.com", crlURL: server.url(for: "issuing.crl"))
        let clock = TestClock()
        let cache = CRLCache(fetcher: HTTPCRLFetcher(), directory: nil, maxAge: .seconds(86_400), now: { clock.now })
        _ = try await cache.revocationList(at: server.url(for: "issuing.crl"))
        clock.advance(by: 1800)
        _ = try await cache.revocationList(at: server.url(for: "issuing.crl"))
        #expect(server.requests(for: "issuing.crl") == 1)
        clock.advance(by: 3600)
        _ = try await cache.revocationList(at: server.url(for: "issuing.crl"))
        #expect(server.requests(for: "issuing.crl") == 2)
        _ = issued
    }
}

/// A clock the test moves by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date()

    var now: Date { lock.withLock { current } }

    func advance(by seconds: TimeInterval) {
        lock.withLock { current = current.addingTimeInterval(seconds) }
    }
}
