import Foundation
internal import COpenSSL

/// What a connection expects of the peer's certificate (docs/reference.md §6).
public struct PeerExpectation: Sendable {
    /// How the expected name is matched against the certificate.
    public enum NameCheck: String, Sendable {
        /// SAN DNS/IP entries; the CN only where the certificate has no SAN (RFC 6125).
        case sanThenCN = "san-then-cn"
        /// SAN entries only.
        case san
        /// The CN only.
        case cn
    }

    /// The name (or IP address) the certificate must match; nil skips the name check
    /// (an inbound client, whose name is its CN, is matched by the caller).
    public var name: String?
    public var nameCheck: NameCheck
    /// The CAs the peer's chain must reach.
    public var trustAnchors: [X509Certificate]
    /// Check every certificate of the chain that names a CRL distribution point, or whose
    /// issuer has a CRL in `localRevocationLists`.
    public var checkRevocation: Bool
    /// CRLs from files (the trust bundle's `crl:`), for the certificates of the chain that
    /// name no distribution point.
    public var localRevocationLists: [CertificateRevocationList]

    public init(
        name: String?, nameCheck: NameCheck = .sanThenCN, trustAnchors: [X509Certificate], checkRevocation: Bool = true,
        localRevocationLists: [CertificateRevocationList] = []
    ) {
        self.name = name
        self.nameCheck = nameCheck
        self.trustAnchors = trustAnchors
        self.checkRevocation = checkRevocation
        self.localRevocationLists = localRevocationLists
    }
}

/// The outcome of checking a peer: one result per check, in the order `diagnose` prints
/// them (chain, expired, not-yet-valid, name-mismatch, revoked, crl-unreachable).
public struct PeerVerdict: Sendable {
    public var checks: [CheckResult]
    /// The peer's certificate (leaf), for messages and status.
    public var certificate: X509Certificate?
    /// The chain OpenSSL built from the peer's certificate to a trust anchor (leaf first),
    /// of the certificates the peer presented; empty when no chain of trust was found.
    /// Revocation is checked on it alone, and a connection keeps it to check it again
    /// when the CRLs change.
    public var verifiedChain: [X509Certificate]

    public init(checks: [CheckResult], certificate: X509Certificate?, verifiedChain: [X509Certificate] = []) {
        self.checks = checks
        self.certificate = certificate
        self.verifiedChain = verifiedChain
    }

    public var failures: [CheckResult] { checks.filter(\.isFailure) }
    public var passed: Bool { failures.isEmpty }
    public var firstFailure: CheckResult? { checks.first(where: \.isFailure) }
}

/// Checks a peer's certificate chain against a connection's expectations with OpenSSL's
/// verifier: trust, validity, name, and revocation through the CRL cache. It only reports;
/// the connection's policy (required/none) decides what a failure does.
public struct PeerValidator: Sendable {
    public var crlSource: (any CRLSource)?
    public var now: @Sendable () -> Date

    public init(crlSource: (any CRLSource)?, now: @escaping @Sendable () -> Date = Date.init) {
        self.crlSource = crlSource
        self.now = now
    }

    /// - Parameter chain: as the peer presented it, its own certificate first.
    public func validate(chain: [X509Certificate], expecting expectation: PeerExpectation) async -> PeerVerdict {
        guard let leaf = chain.first else {
            return PeerVerdict(checks: [.failed(.chain, detail: "the peer presented no certificate")], certificate: nil)
        }
        var checks: [CheckResult] = []
        let verifier = X509Verifier(anchors: expectation.trustAnchors, intermediates: Array(chain.dropFirst()))
        var verified: [X509Certificate] = []
        var chainFailure: X509Verifier.Failure?
        switch verifier.build(leaf, mode: .chain) {
        case .success(let built):
            verified = built
            checks.append(.passed(.chain))
        case .failure(let failure):
            chainFailure = failure
            checks.append(.failed(.chain, detail: "\(failure.reason) (depth \(failure.depth), subject \(leaf.subject.description))"))
        }

        // The validity of the path to the anchor: a certificate the peer sent along that
        // is no part of it does not count.
        let path = verified.isEmpty ? chain : verified
        let now = now()
        let expired = path.first { now > $0.notAfter }
        checks.append(expired.map { .failed(.expired, detail: "\($0.subject.description) expired \(CertificateChecker.format($0.notAfter))") } ?? .passed(.expired))
        let early = path.first { now < $0.notBefore }
        checks.append(early.map { .failed(.notYetValid, detail: "\($0.subject.description) is valid from \(CertificateChecker.format($0.notBefore))") } ?? .passed(.notYetValid))

        if let name = expectation.name {
            checks.append(Self.matches(leaf, name: name, check: expectation.nameCheck)
                ? .passed(.nameMismatch, detail: name)
                : .failed(.nameMismatch(expected: name, commonName: leaf.commonName, subjectAlternativeNames: leaf.subjectAlternativeNames)))
        }

        if !expectation.checkRevocation {
            checks.append(.skipped(.revoked, because: "revocation checking is off"))
        } else if chainFailure != nil {
            checks.append(.skipped(.revoked, because: "the chain of trust is not verified, so no CRL signature can be"))
        } else {
            checks.append(contentsOf: await revocationChecks(verified, anchors: expectation.trustAnchors, local: expectation.localRevocationLists))
        }
        return PeerVerdict(checks: checks, certificate: leaf, verifiedChain: verified)
    }

    /// Checks again whether a chain verified earlier (`PeerVerdict.verifiedChain`) is
    /// revoked, against the CRLs the source holds now: the revoked and crl-unreachable
    /// results only (trust, validity and name were settled at the handshake).
    public func recheckRevocation(of verifiedChain: [X509Certificate], expecting expectation: PeerExpectation) async -> PeerVerdict {
        guard expectation.checkRevocation, !verifiedChain.isEmpty else {
            return PeerVerdict(checks: [], certificate: verifiedChain.first, verifiedChain: verifiedChain)
        }
        let checks = await revocationChecks(verifiedChain, anchors: expectation.trustAnchors, local: expectation.localRevocationLists)
        return PeerVerdict(checks: checks, certificate: verifiedChain.first, verifiedChain: verifiedChain)
    }

    /// Each certificate of the verified chain is checked against its issuer's CRL
    /// (`X509_V_FLAG_CRL_CHECK`, with that certificate as the target): fetched from its
    /// distribution points when it names any, else the newest local CRL of its issuer, if
    /// one was given. A local CRL past its nextUpdate is no CRL: crl-unreachable.
    ///
    /// The distribution points of the whole chain are fetched at once, within the
    /// source's `checkTimeout` for them all, and a chain that names more than
    /// `CRLFetchRound.maximumLocations` of them is crl-unreachable without any fetch.
    func revocationChecks(_ chain: [X509Certificate], anchors: [X509Certificate], local: [CertificateRevocationList] = []) async -> [CheckResult] {
        var revoked: CheckResult?
        var unreachable: [String] = []
        var checked: [String] = []
        let now = now()
        let locations = CRLFetchRound.locations(of: chain)
        if locations.count > CRLFetchRound.maximumLocations {
            return [
                .skipped(.revoked, because: "no current CRL"),
                .failed(.crlUnreachable, detail: "the chain names \(locations.count) CRL locations; at most \(CRLFetchRound.maximumLocations) are fetched for one peer"),
            ]
        }
        var fetched: [String: Result<CertificateRevocationList, CRLFetchError>] = [:]
        if let crlSource {
            fetched = await CRLFetchRound.fetch(locations, from: crlSource, within: crlSource.checkTimeout)
        }
        for (index, certificate) in chain.enumerated() where !certificate.isSelfSigned {
            let urls = certificate.crlDistributionPoints
            let crl: CertificateRevocationList
            let source: String
            if urls.isEmpty {
                guard let localCRL = CertificateRevocationList.newest(coveringIssuerOf: certificate, in: local) else { continue }
                source = localCRL.file ?? "the local CRL of \(localCRL.issuer.description)"
                guard !localCRL.isOutOfDate(at: now) else {
                    unreachable.append(CertificateChecker.outOfDate(localCRL, file: source))
                    continue
                }
                crl = localCRL
            } else {
                guard crlSource != nil else {
                    unreachable.append("no CRL source for \(urls[0])")
                    continue
                }
                // One current CRL of the certificate's distribution points is enough.
                var found: (String, CertificateRevocationList)?
                var errors: [String] = []
                for url in urls {
                    switch fetched[url] {
                    case .success(let list)?: found = found ?? (url, list)
                    case .failure(let error)?: errors.append(error.description)
                    case nil: break
                    }
                }
                guard let found else {
                    unreachable.append(errors.joined(separator: "; "))
                    continue
                }
                (source, crl) = found
            }
            let verifier = X509Verifier(anchors: anchors, intermediates: Array(chain.dropFirst(index + 1)))
            switch verifier.verify(certificate, mode: .revocation([crl])) {
            case nil:
                checked.append(source)
            case let failure? where failure.isRevocation:
                revoked = revoked ?? .failed(.revoked, detail: "\(certificate.subject.description), serial \(certificate.serialNumber), is listed by \(source)")
            case let failure?:
                unreachable.append("\(source): \(failure.reason)")
            }
        }
        let revocation: CheckResult = revoked ?? (unreachable.isEmpty
            ? .passed(.revoked, detail: checked.isEmpty ? "no certificate of the chain names a CRL distribution point or has a local CRL" : "checked against \(checked.joined(separator: ", "))")
            : .skipped(.revoked, because: "no current CRL"))
        let reachability: CheckResult = unreachable.isEmpty
            ? .passed(.crlUnreachable, detail: checked.isEmpty ? nil : checked.joined(separator: ", "))
            : .failed(.crlUnreachable, detail: unreachable.joined(separator: "; "))
        return [revocation, reachability]
    }

    /// RFC 6125 matching by OpenSSL (`X509_check_host`, no partial wildcards), or the CN
    /// alone for `cn`.
    static func matches(_ certificate: X509Certificate, name: String, check: PeerExpectation.NameCheck) -> Bool {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        if IPAddressLiteral.isIP(name) {
            switch check {
            case .cn: return certificate.commonName == name
            case .san, .sanThenCN: return X509_check_ip_asc(certificate.pointer, name, 0) == 1
            }
        }
        switch check {
        case .sanThenCN:
            return X509_check_host(certificate.pointer, name, name.utf8.count, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS), nil) == 1
        case .san:
            let flags = UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT)
            return X509_check_host(certificate.pointer, name, name.utf8.count, flags, nil) == 1
        case .cn:
            guard let commonName = certificate.commonName?.lowercased() else { return false }
            let wanted = name.lowercased()
            if commonName.hasPrefix("*.") {
                // A wildcard stands for exactly one left-most label.
                guard let dot = wanted.firstIndex(of: ".") else { return false }
                return wanted[wanted.index(after: dot)...] == commonName.dropFirst(2) && dot != wanted.startIndex
            }
            return commonName == wanted
        }
    }
}

/// Whether a string is an IPv4 or IPv6 literal (not a host name).
public enum IPAddressLiteral {
    public static func isIP(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
