import Foundation

/// Runs the import checks of docs/reference.md §5 on one certificate's files.
///
/// Checks run in a fixed order and each reports passed, failed or skipped (with why), so
/// an operator sees every problem of a certificate at once rather than the first.
public struct CertificateChecker: Sendable {
    /// The `store.trust` bundles: CAs that appliance certificates may chain to besides the
    /// roots in their own chain file.
    public var trustAnchors: [X509Certificate]
    /// Where `use_crl` certificates get their CRLs.
    public var crlSource: (any CRLSource)?
    /// The trust bundles' `crl:` files: for a `use_crl` certificate that names no
    /// distribution point, the newest of these its issuer issued.
    public var localRevocationLists: [CertificateRevocationList]
    public var now: @Sendable () -> Date

    public init(
        trustAnchors: [X509Certificate] = [], crlSource: (any CRLSource)? = nil,
        localRevocationLists: [CertificateRevocationList] = [], now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.trustAnchors = trustAnchors
        self.crlSource = crlSource
        self.localRevocationLists = localRevocationLists
        self.now = now
    }

    public func check(_ files: CertificateFiles) async -> CertificateReport {
        var report = CertificateReport(files: files, certificate: nil, key: nil, chain: [], checks: [])
        var checks = CheckList()

        // Read the three files; an unreadable one stops the checks that need it.
        let certificate: X509Certificate
        do {
            let bytes = try CertificateFiles.read(files.certificate)
            certificate = try X509Certificate.certificates(from: bytes)[0]
        } catch {
            checks.add(.failed(.unreadable, detail: Self.describe(error, file: files.certificate)))
            checks.skipRemaining(because: "the certificate file could not be read")
            report.checks = checks.results
            return report
        }
        report.certificate = certificate

        var readProblems: [String] = []
        var keyOutcome: KeyOutcome = .notGiven
        if let keyPath = files.key {
            do {
                let key = try PrivateKey.load(from: try CertificateFiles.read(keyPath), passphrase: files.passphrase)
                report.key = key
                keyOutcome = .loaded(key)
            } catch .wrongPassphrase(let detail) {
                keyOutcome = .wrongPassphrase(detail)
            } catch {
                keyOutcome = .unreadable
                readProblems.append(Self.describe(error, file: keyPath))
            }
        }
        if let chainPath = files.chain {
            do {
                report.chain = try X509Certificate.certificates(from: try CertificateFiles.read(chainPath))
            } catch {
                readProblems.append(Self.describe(error, file: chainPath))
            }
        }
        checks.add(readProblems.isEmpty ? .passed(.unreadable) : .failed(.unreadable, detail: readProblems.joined(separator: "; ")))

        // The key.
        switch keyOutcome {
        case .notGiven:
            checks.add(.skipped(.passphrase, because: "no key given"))
            checks.add(.skipped(.keyMismatch, because: "no key given"))
        case .unreadable:
            checks.add(.skipped(.passphrase, because: "the key file could not be read"))
            checks.add(.skipped(.keyMismatch, because: "the key file could not be read"))
        case .wrongPassphrase(let detail):
            checks.add(.failed(.passphrase, detail: detail))
            checks.add(.skipped(.keyMismatch, because: "the key could not be decrypted"))
        case .loaded(let key):
            checks.add(.passed(.passphrase))
            checks.add(certificate.matches(key) ? .passed(.keyMismatch) : .failed(.keyMismatch, detail: "the key is \(key.description), the certificate's is \(certificate.publicKey)"))
        }

        // The certificate's own parameters.
        let publicKey = certificate.publicKey
        checks.add(publicKey.isRSA && publicKey.bits >= 2048 ? .passed(.weakKey, detail: "\(publicKey)") : .failed(.weakKey, detail: "the key is \(publicKey)"))
        checks.add(certificate.isSignedWithSHA256RSA ? .passed(.signature) : .failed(.signature, detail: "signed with \(certificate.signatureAlgorithm)"))
        let commonName = certificate.commonName ?? ""
        checks.add(commonName.contains("*") ? .failed(.wildcard, detail: "CN=\(commonName)") : .passed(.wildcard))
        let now = now()
        checks.add(now > certificate.notAfter ? .failed(.expired, detail: "notAfter \(Self.format(certificate.notAfter))") : .passed(.expired))
        checks.add(now < certificate.notBefore ? .failed(.notYetValid, detail: "notBefore \(Self.format(certificate.notBefore))") : .passed(.notYetValid))

        // The chain of trust.
        let verifier = verifier(for: certificate, chain: report.chain, acknowledgeSelfSigned: files.acknowledgeSelfSigned)
        let chainFailure = verifier.verify(certificate, mode: .chain)
        if let chainFailure {
            checks.add(.failed(.chain, detail: certificate.isSelfSigned && chainFailure.depth == 0
                ? Self.unacknowledgedSelfSigned(chain: files.chain)
                : "\(chainFailure.reason) (depth \(chainFailure.depth))"))
        } else if certificate.isSelfSigned, !(trustAnchors + report.chain).contains(where: { $0.sha256Fingerprint == certificate.sha256Fingerprint }) {
            checks.add(.passed(.chain, detail: "self-signed, accepted as its own root because acknowledge_insecure is set"))
        } else {
            checks.add(.passed(.chain))
        }

        // Revocation.
        if !files.useCRL {
            checks.add(.skipped(.revoked, because: "CRL checking is off for this certificate"))
            checks.add(.skipped(.crlUnreachable, because: "CRL checking is off for this certificate"))
        } else if chainFailure != nil {
            checks.add(.skipped(.revoked, because: "the chain of trust is not verified, so no CRL signature can be"))
            checks.add(.skipped(.crlUnreachable, because: "the chain of trust is not verified"))
        } else {
            checks.add(contentsOf: await revocationChecks(certificate, verifier: verifier))
        }

        report.checks = checks.results
        return report
    }

    /// The revoked and crl-unreachable results, in that order.
    func revocationChecks(_ certificate: X509Certificate, verifier: X509Verifier) async -> [CheckResult] {
        let urls = certificate.crlDistributionPoints
        let crl: CertificateRevocationList
        let source: String
        if urls.isEmpty {
            guard let local = CertificateRevocationList.newest(coveringIssuerOf: certificate, in: localRevocationLists), let file = local.file else {
                return [
                    .skipped(.revoked, because: "no CRL could be read"),
                    .failed(.crlUnreachable, detail: localRevocationLists.isEmpty
                        ? "the certificate names no CRL distribution point"
                        : "the certificate names no CRL distribution point, and no trust bundle's crl: file holds a CRL of its issuer"),
                ]
            }
            if local.isOutOfDate(at: now()) {
                return [.skipped(.revoked, because: "no current CRL"), .failed(.crlUnreachable, detail: Self.outOfDate(local, file: file))]
            }
            crl = local
            source = file
        } else {
            guard let crlSource else {
                return [.skipped(.revoked, because: "no CRL could be read"), .failed(.crlUnreachable, detail: "no CRL source is configured")]
            }
            do {
                crl = try await crlSource.firstRevocationList(of: urls)
            } catch {
                return [.skipped(.revoked, because: "no CRL could be read"), .failed(.crlUnreachable, detail: error.reason)]
            }
            source = urls.joined(separator: ", ")
        }
        switch verifier.verify(certificate, mode: .revocation([crl])) {
        case nil:
            return [.passed(.revoked, detail: "checked against \(source)"), .passed(.crlUnreachable, detail: source)]
        case let failure? where failure.isRevocation:
            return [.failed(.revoked, detail: "serial \(certificate.serialNumber) is listed by \(urls.first ?? source)"), .passed(.crlUnreachable)]
        case let failure?:
            return [.skipped(.revoked, because: "no current CRL"), .failed(.crlUnreachable, detail: "\(urls.first ?? source): \(failure.reason)")]
        }
    }

    /// The crl-unreachable detail of a local CRL past its nextUpdate.
    static func outOfDate(_ crl: CertificateRevocationList, file: String) -> String {
        let next = crl.nextUpdate.map(format) ?? "?"
        return "the local CRL file \(file) is out of date: its nextUpdate was \(next); put the CA's current CRL into it and reload the store"
    }

    /// Anchors: the self-signed certificates of the chain file, the store's trust bundles,
    /// and, when acknowledged, a self-signed certificate itself (its own root; last).
    /// Unacknowledged, a self-signed certificate verifies only if the chain file or a trust
    /// bundle holds it: any unrelated chain would otherwise "validate" it.
    func verifier(for certificate: X509Certificate, chain: [X509Certificate], acknowledgeSelfSigned: Bool) -> X509Verifier {
        var anchors = trustAnchors + chain.filter(\.isSelfSigned)
        if certificate.isSelfSigned, acknowledgeSelfSigned {
            anchors.append(certificate)
        }
        return X509Verifier(anchors: anchors, intermediates: chain.filter { !$0.isSelfSigned })
    }

    /// The `chain` detail of a self-signed certificate nobody vouched for.
    static func unacknowledgedSelfSigned(chain: String?) -> String {
        let given = chain.map { "it is not in \($0)" } ?? "no chain holds it"
        return "the certificate is self-signed and \(given); a self-signed certificate is accepted only with acknowledge_insecure: true "
            + "beside cert: in the store (cert check: --acknowledge-insecure)"
    }

    private enum KeyOutcome {
        case notGiven
        case unreadable
        case wrongPassphrase(String)
        case loaded(PrivateKey)
    }

    static func describe(_ error: CertificateFileError, file: String) -> String {
        switch error {
        case .unreadableFile(let reason): reason
        case .notACertificate: "\(file) holds no certificate in PEM or DER form"
        case .notAKey: "\(file) holds no private key in PEM or DER form"
        case .notACRL: "\(file) holds no CRL"
        case .wrongPassphrase(let detail): "\(file): \(detail)"
        }
    }

    static func format(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}

/// The results so far, in order; once a prerequisite fails, the rest are skipped.
private struct CheckList {
    var results: [CheckResult] = []

    mutating func add(_ result: CheckResult) {
        results.append(result)
    }

    mutating func add(contentsOf more: [CheckResult]) {
        results.append(contentsOf: more)
    }

    mutating func skipRemaining(because reason: String) {
        let done = Set(results.map(\.code))
        for code in CheckCode.importChecks where !done.contains(code) {
            results.append(.skipped(code, because: reason))
        }
    }
}

extension CheckCode {
    /// The checks one certificate gets on its own, in report order (duplicate-cn needs the
    /// store, name-mismatch a connection).
    public static let importChecks: [CheckCode] = [
        .unreadable, .passphrase, .keyMismatch, .weakKey, .signature, .wildcard,
        .expired, .notYetValid, .chain, .revoked, .crlUnreachable,
    ]
}
