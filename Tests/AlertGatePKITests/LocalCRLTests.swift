import AlertGatePKI
import AlertGateTesting
import Foundation
import Testing

/// CRLs from a trust bundle's `crl:` file, for certificates that name no distribution point
/// (air-gapped networks): loaded with the bundle, used by the peer checks and by the
/// store's `use_crl` check.
@Suite struct LocalCRLTests {
    let pki: TestPKI
    let crlFile: URL

    init() throws {
        pki = try TestPKI()
        crlFile = pki.directory.appendingPathComponent("bundle/corp.crl.pem")
    }

    func bundle(crl: URL?) async -> (store: CertificateStore, bundle: CertificateStore.TrustBundle) {
        let store = await CertificateStore.load(
            entries: [], trust: [.init(name: "corp", file: pki.chainFile.path, crl: crl?.path)], crlSource: nil)
        return (store, store.trustBundle(named: "corp")!)
    }

    /// The partner's chain as a server sends it (its certificate, then the intermediate).
    func partnerChain(_ issued: TestPKI.Issued) throws -> [X509Certificate] {
        try X509Certificate.certificates(from: Array(Data(contentsOf: issued.certificate)))
            + X509Certificate.certificates(from: Array(Data(contentsOf: pki.intermediateCertificate)))
    }

    func validate(_ issued: TestPKI.Issued, crl: URL, now: @escaping @Sendable () -> Date = Date.init) async throws -> PeerVerdict {
        let (store, bundle) = await bundle(crl: crl)
        #expect(store.isValid, "\(bundle.problem ?? "")")
        let expectation = PeerExpectation(
            name: issued.commonName, trustAnchors: bundle.certificates, localRevocationLists: bundle.revocationLists)
        return await PeerValidator(crlSource: nil, now: now).validate(chain: try partnerChain(issued), expecting: expectation)
    }

    func check(_ verdict: PeerVerdict, _ code: CheckCode) -> CheckResult? {
        verdict.checks.first { $0.code == code }
    }

    // MARK: Peers

    @Test func aRevokedPartnerWithoutADistributionPointIsRefusedByTheLocalCRL() async throws {
        let partner = try pki.issue("partner", commonName: "siem.contoso.com")
        try pki.revoke(partner)
        try pki.writeCRL(to: crlFile, format: .pem)

        let verdict = try await validate(partner, crl: crlFile)
        #expect(verdict.failures.map(\.code) == [.revoked])
        #expect(verdict.firstFailure?.problem?.message == "This certificate has been revoked by the CRL and can't be trusted for a secure connection")
        let detail = try #require(check(verdict, .revoked)?.detail)
        #expect(detail.contains("CN=siem.contoso.com"))
        #expect(detail.hasSuffix("is listed by \(crlFile.path)"))
    }

    @Test(arguments: [TestPKI.CRLFormat.pem, .der])
    func aPartnerNotListedPassesAndTheDetailNamesTheFile(format: TestPKI.CRLFormat) async throws {
        let partner = try pki.issue("partner", commonName: "siem.contoso.com")
        let revokedOther = try pki.issue("other", commonName: "other.contoso.com")
        try pki.revoke(revokedOther)
        try pki.writeCRL(to: crlFile, format: format)

        let verdict = try await validate(partner, crl: crlFile)
        #expect(verdict.passed, "failures: \(verdict.failures)")
        #expect(check(verdict, .revoked)?.outcome == .passed)
        #expect(check(verdict, .revoked)?.detail == "checked against \(crlFile.path)")
        #expect(check(verdict, .crlUnreachable)?.detail == crlFile.path)
    }

    @Test func anOutOfDateLocalCRLFailsCRLUnreachable() async throws {
        let partner = try pki.issue("partner", commonName: "siem.contoso.com")
        try pki.writeCRL(to: crlFile, hours: 1, format: .pem)

        let later = Date().addingTimeInterval(2 * 3600)
        let verdict = try await validate(partner, crl: crlFile, now: { later })
        #expect(verdict.failures.map(\.code) == [.crlUnreachable])
        #expect(verdict.firstFailure?.problem?.message == "The CRL (Certificate Revocation List) location is not reachable. Verify the URL can be accessed from this appliance")
        let detail = try #require(check(verdict, .crlUnreachable)?.detail)
        #expect(detail.hasPrefix("the local CRL file \(crlFile.path) is out of date"))
        if case .skipped = check(verdict, .revoked)?.outcome {} else {
            Issue.record("revoked must be skipped without a current CRL, got \(String(describing: check(verdict, .revoked)))")
        }
    }

    @Test func theNewestOfSeveralCRLsInOneFileDecides() async throws {
        let partner = try pki.issue("partner", commonName: "siem.contoso.com")
        let before = pki.directory.appendingPathComponent("before.crl.pem")
        let after = pki.directory.appendingPathComponent("after.crl.pem")
        try pki.writeCRL(to: before, format: .pem)
        // lastUpdate has whole seconds: the second CRL must be visibly newer.
        try await Task.sleep(for: .milliseconds(1100))
        try pki.revoke(partner)
        try pki.writeCRL(to: after, format: .pem)
        // The newer CRL first: the order in the file does not matter, lastUpdate does.
        try FileManager.default.createDirectory(at: crlFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        try (String(contentsOf: after, encoding: .utf8) + String(contentsOf: before, encoding: .utf8))
            .write(to: crlFile, atomically: true, encoding: .utf8)

        let (_, loaded) = await bundle(crl: crlFile)
        #expect(loaded.revocationLists.count == 2)
        let verdict = try await validate(partner, crl: crlFile)
        #expect(verdict.failures.map(\.code) == [.revoked])
    }

    @Test func aPartnerWithADistributionPointKeepsTheFetchedCRL() async throws {
        let partner = try pki.issue("partner", commonName: "siem.contoso.com", crlURL: "http://127.0.0.1:9/issuing.crl")
        try pki.writeCRL(to: crlFile, format: .pem)
        let (_, bundle) = await bundle(crl: crlFile)
        let expectation = PeerExpectation(name: partner.commonName, trustAnchors: bundle.certificates, localRevocationLists: bundle.revocationLists)
        let validator = PeerValidator(crlSource: CRLCache(fetcher: HTTPCRLFetcher(timeout: .seconds(2)), directory: nil))
        let verdict = await validator.validate(chain: try partnerChain(partner), expecting: expectation)
        #expect(verdict.failures.map(\.code) == [.crlUnreachable])
        #expect(check(verdict, .crlUnreachable)?.detail?.contains("http://127.0.0.1:9/issuing.crl") == true)
    }

    // MARK: The bundle

    @Test func theCRLOfAnotherCAIsAProblemOfTheBundle() async throws {
        let other = try TestPKI(name: "Other")
        try other.writeCRL(to: crlFile, format: .pem)
        let (store, bundle) = await bundle(crl: crlFile)
        #expect(!store.isValid)
        guard case .foreignRevocationList(let detail) = bundle.failure else {
            Issue.record("expected a foreign CRL, got \(String(describing: bundle.failure))")
            return
        }
        #expect(detail == "\(crlFile.path): the CRL issued by C=US, O=Other PKI, CN=Other Issuing CA is not from a CA of this bundle (\(pki.chainFile.path))")
        #expect(bundle.revocationLists.isEmpty)
    }

    @Test func aCRLInTheNameOfTheBundlesCAButSignedWithAnotherKeyIsAProblem() async throws {
        // Same names ("Test Issuing CA"), another key.
        let impostor = try TestPKI()
        try impostor.writeCRL(to: crlFile, format: .pem)
        let (store, bundle) = await bundle(crl: crlFile)
        #expect(!store.isValid)
        #expect(bundle.problem?.contains("the signature of the CRL issued by C=US, O=Test PKI, CN=Test Issuing CA does not verify") == true)
    }

    @Test func anUnreadableCRLFileIsAProblemNamingTheFile() async throws {
        let (missingStore, missing) = await bundle(crl: crlFile)
        #expect(!missingStore.isValid)
        guard case .unreadableRevocationList(let detail) = missing.failure else {
            Issue.record("expected an unreadable CRL file, got \(String(describing: missing.failure))")
            return
        }
        #expect(detail.hasPrefix("cannot read \(crlFile.path): "))

        let (_, notACRL) = await bundle(crl: pki.rootCertificate)
        #expect(notACRL.failure == .unreadableRevocationList("\(pki.rootCertificate.path) holds no CRL"))
    }

    // MARK: Store certificates (use_crl)

    @Test func aUseCRLCertificateWithoutADistributionPointIsCheckedAgainstTheLocalCRL() async throws {
        let good = try pki.issue("good", commonName: "good.contoso.com")
        let bad = try pki.issue("bad", commonName: "bad.contoso.com")
        try pki.revoke(bad)
        try pki.writeCRL(to: crlFile)
        let entries = [good, bad].map {
            CertificateStore.Entry(name: $0.commonName, files: CertificateFiles(certificate: $0.certificate.path, key: $0.key.path, useCRL: true))
        }
        let store = await CertificateStore.load(
            entries: entries, trust: [.init(name: "corp", file: pki.chainFile.path, crl: crlFile.path)], crlSource: nil)
        let accepted = try #require(store.item(named: "good.contoso.com"))
        #expect(accepted.isValid, "failures: \(accepted.checks.filter(\.isFailure))")
        #expect(accepted.checks.first { $0.code == .crlUnreachable }?.detail == crlFile.path)
        let refused = try #require(store.item(named: "bad.contoso.com"))
        #expect(refused.firstFailure?.problem?.message == "This certificate has been revoked by the CRL and can't be trusted for a secure connection")
        #expect(refused.firstFailure?.detail?.hasSuffix("is listed by \(crlFile.path)") == true)

        // Without the crl: file, such a certificate has no CRL at all.
        let bare = await CertificateStore.load(entries: [entries[0]], trust: [.init(name: "corp", file: pki.chainFile.path)], crlSource: nil)
        #expect(bare.item(named: "good.contoso.com")?.firstFailure?.code == .crlUnreachable)
    }
}
