import Foundation

/// The appliance certificates and trust bundles of `store` in config.yaml, each checked.
///
/// A value: a reload builds a new store aside and swaps it in whole (SPEC §8), so
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

    /// A CA bundle partners and sensors are checked against.
    public struct TrustBundle: Sendable {
        public var name: String
        public var file: String
        public var certificates: [X509Certificate]
        /// Why the file could not be used; nil when it holds certificates.
        public var problem: String?
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
        trust: [(name: String, file: String)],
        crlSource: (any CRLSource)?,
        now: @escaping @Sendable () -> Date = Date.init
    ) async -> CertificateStore {
        let bundles = trust.map { loadBundle(name: $0.name, file: $0.file) }
        let checker = CertificateChecker(trustAnchors: bundles.flatMap(\.certificates), crlSource: crlSource, now: now)
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

    static func loadBundle(name: String, file: String) -> TrustBundle {
        do {
            let certificates = try X509Certificate.certificates(from: try CertificateFiles.read(file))
            return TrustBundle(name: name, file: file, certificates: certificates, problem: nil)
        } catch {
            return TrustBundle(name: name, file: file, certificates: [], problem: CertificateChecker.describe(error, file: file))
        }
    }
}

extension CertificateStore {
    /// What changed for one certificate when a new store replaced an old one.
    public enum Change: Sendable {
        /// The new files failed; the old certificate stays in use (SPEC §5: on reload the
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
