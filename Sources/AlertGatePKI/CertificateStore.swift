import Foundation

/// The appliance certificates and trust bundles of `store` in config.yaml, each checked.
///
/// A value: a reload builds a new store aside and swaps it in whole (docs/reference.md §8), so
/// connections keep the store they started with and a failed reload changes nothing.
public struct CertificateStore: Sendable {
    /// One certificate entry to load.
    public struct Entry: Sendable, Hashable {
        public var name: String
        public var files: CertificateFiles

        public init(name: String, files: CertificateFiles) {
            self.name = name
            self.files = files
        }
    }

    /// A loaded certificate entry and everything its checks found.
    public struct Item: Sendable {
        public var name: String
        public var report: CertificateReport
        /// The report's checks plus the store-wide duplicate-cn check.
        public var checks: [CheckResult]

        public var isValid: Bool { !checks.contains(where: \.isFailure) }
        public var certificate: X509Certificate? { report.certificate }
        public var key: PrivateKey? { report.key }
        public var chain: [X509Certificate] { report.chain }
        /// The first failure: what status and logs show for this certificate.
        public var firstFailure: CheckResult? { checks.first(where: \.isFailure) }
    }

    /// The files of one `store.trust` entry.
    public struct TrustFiles: Sendable, Hashable {
        public var name: String
        /// The CA certificates (PEM, several).
        public var file: String
        /// CRLs of the bundle's CAs (PEM, one or several; or one DER), for certificates that
        /// name no distribution point; nil when the entry has no `crl:`.
        public var crl: String?

        public init(name: String, file: String, crl: String? = nil) {
            self.name = name
            self.file = file
            self.crl = crl
        }
    }

    /// A CA bundle partners and sensors are checked against.
    public struct TrustBundle: Sendable {
        /// Why a bundle cannot be used.
        public enum Problem: Sendable, Hashable {
            /// The certificate file cannot be read or holds no certificate.
            case unreadable(String)
            /// The `crl:` file cannot be read or holds no CRL.
            case unreadableRevocationList(String)
            /// A CRL of the `crl:` file was not issued by a CA of the bundle, or its
            /// signature does not verify with that CA's key.
            case foreignRevocationList(String)

            /// What went wrong, naming the file.
            public var detail: String {
                switch self {
                case .unreadable(let detail), .unreadableRevocationList(let detail), .foreignRevocationList(let detail): detail
                }
            }
        }

        public var name: String
        public var file: String
        public var certificates: [X509Certificate]
        /// The `crl:` file, if the entry names one.
        public var crlFile: String?
        /// The CRLs of `crlFile`, each issued and signed by a CA of `certificates`.
        public var revocationLists: [CertificateRevocationList]
        public var failure: Problem?

        /// Why the files could not be used; nil when they can.
        public var problem: String? { failure?.detail }

        public init(name: String, file: String, certificates: [X509Certificate], crlFile: String? = nil, revocationLists: [CertificateRevocationList] = [], failure: Problem? = nil) {
            self.name = name
            self.file = file
            self.certificates = certificates
            self.crlFile = crlFile
            self.revocationLists = revocationLists
            self.failure = failure
        }
    }

    public private(set) var items: [Item]
    public private(set) var trustBundles: [TrustBundle]

    public var isValid: Bool {
        items.allSatisfy(\.isValid) && trustBundles.allSatisfy { $0.problem == nil }
    }

    public func item(named name: String) -> Item? {
        items.first { $0.name == name }
    }

    public func trustBundle(named name: String) -> TrustBundle? {
        trustBundles.first { $0.name == name }
    }

    /// Loads the trust bundles, then checks every entry (concurrently: CRL fetches are the
    /// slow part), then the CNs across entries.
    public static func load(
        entries: [Entry],
        trust: [TrustFiles],
        crlSource: (any CRLSource)?,
        now: @escaping @Sendable () -> Date = Date.init
    ) async -> CertificateStore {
        let bundles = trust.map(loadBundle)
        let checker = CertificateChecker(
            trustAnchors: bundles.flatMap(\.certificates), crlSource: crlSource,
            localRevocationLists: bundles.flatMap(\.revocationLists), now: now)
        let reports = await withTaskGroup(of: (Int, CertificateReport).self) { group in
            for (index, entry) in entries.enumerated() {
                group.addTask { (index, await checker.check(entry.files)) }
            }
            var reports = [CertificateReport?](repeating: nil, count: entries.count)
            for await (index, report) in group {
                reports[index] = report
            }
            return reports.compactMap { $0 }
        }
        var items = zip(entries, reports).map { Item(name: $0.name, report: $1, checks: $1.checks) }
        markDuplicateCommonNames(&items)
        return CertificateStore(items: items, trustBundles: bundles)
    }

    /// A CN may belong to one entry only: the first keeps it, every later one fails
    /// duplicate-cn naming both (CNs compare case-insensitively, as host names do).
    static func markDuplicateCommonNames(_ items: inout [Item]) {
        var owners: [String: String] = [:]
        for index in items.indices {
            guard let commonName = items[index].certificate?.commonName?.lowercased() else {
                items[index].checks.append(.skipped(.duplicateCN, because: "the certificate could not be read"))
                continue
            }
            if let owner = owners[commonName] {
                items[index].checks.append(.failed(.duplicateCN(owner, items[index].name), detail: "CN=\(commonName)"))
            } else {
                owners[commonName] = items[index].name
                items[index].checks.append(.passed(.duplicateCN))
            }
        }
    }

    /// Reads a bundle's certificates, then its CRLs, each of which must be issued and signed
    /// by a CA of the bundle (a CRL is trusted only as far as the CA that signed it).
    static func loadBundle(_ files: TrustFiles) -> TrustBundle {
        var bundle = TrustBundle(name: files.name, file: files.file, certificates: [], crlFile: files.crl)
        do {
            bundle.certificates = try X509Certificate.certificates(from: try CertificateFiles.read(files.file))
        } catch {
            bundle.failure = .unreadable(CertificateChecker.describe(error, file: files.file))
            return bundle
        }
        guard let crlFile = files.crl else { return bundle }
        let lists: [CertificateRevocationList]
        do {
            lists = try CertificateRevocationList.revocationLists(inFile: crlFile)
        } catch {
            bundle.failure = .unreadableRevocationList(CertificateChecker.describe(error, file: crlFile))
            return bundle
        }
        for crl in lists {
            let namesakes = bundle.certificates.filter { $0.subject == crl.issuer }
            if namesakes.isEmpty {
                bundle.failure = .foreignRevocationList(
                    "\(crlFile): the CRL issued by \(crl.issuer.description) is not from a CA of this bundle (\(files.file))")
                return bundle
            }
            guard namesakes.contains(where: crl.isSigned) else {
                bundle.failure = .foreignRevocationList(
                    "\(crlFile): the signature of the CRL issued by \(crl.issuer.description) does not verify with that CA's key in \(files.file)")
                return bundle
            }
        }
        bundle.revocationLists = lists
        return bundle
    }
}

extension CertificateStore {
    /// What changed for one certificate when a new store replaced an old one.
    public enum Change: Sendable {
        /// The new files failed; the old certificate stays in use (docs/reference.md §5: on reload the
        /// old one stays).
        case keptPrevious(name: String, refused: CheckResult)
        /// The certificate in use is now refused: revoked by a fresh CRL, or past notAfter.
        /// The old files cannot be kept in use for these reasons.
        case nowInvalid(name: String, failure: CheckResult)
        /// A new certificate (or new files for one) passed its checks and is in use.
        case replaced(name: String)
        case restored(name: String)
    }

    /// This store, with every item that failed but was valid in `previous` replaced by the
    /// previous item — unless the failure is one that also condemns the previous files
    /// (revoked, expired, CRL unreachable for the same certificate).
    public func keepingValidItems(of previous: CertificateStore) -> (store: CertificateStore, changes: [Change]) {
        var merged = self
        var changes: [Change] = []
        for index in merged.items.indices {
            let item = merged.items[index]
            let old = previous.item(named: item.name)
            if item.isValid {
                if let old, !old.isValid {
                    changes.append(.restored(name: item.name))
                } else if let old, old.certificate?.sha256Fingerprint != item.certificate?.sha256Fingerprint {
                    changes.append(.replaced(name: item.name))
                }
                continue
            }
            guard let failure = item.firstFailure else { continue }
            let sameCertificate = old?.certificate?.sha256Fingerprint == item.certificate?.sha256Fingerprint
            if let old, old.isValid, !sameCertificate {
                merged.items[index] = old
                changes.append(.keptPrevious(name: item.name, refused: failure))
            } else if old?.isValid == true {
                changes.append(.nowInvalid(name: item.name, failure: failure))
            }
        }
        return (merged, changes)
    }
}
