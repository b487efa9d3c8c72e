import AlertGateConfig
import AlertGateCore
import AlertGatePKI
import Foundation

/// Builds the certificate store a config describes and reports its problems at the
/// config lines that caused them.
public struct StoreLoader: Sendable {
    public enum SelfSignedMode: Sendable {
        /// `run`: generate missing self-signed certificates into `data_dir` once, reuse them after.
        case generate
        /// `check-config`: write nothing; entries not generated yet are reported as pending.
        case readOnly
    }

    public struct Outcome: Sendable {
        public var store: CertificateStore
        /// One per failed check, at the entry's line; sorted by line.
        public var diagnostics: [ConfigDiagnostic]
        /// Self-signed entries that `run` will generate on first start.
        public var pendingSelfSigned: [String]
    }

    public let config: GatewayConfig
    public let crlCache: CRLCache

    public init(config: GatewayConfig, crlCache: CRLCache) {
        self.config = config
        self.crlCache = crlCache
    }

    /// The CRL cache a config asks for: through `store.crl.proxy`, kept under
    /// `data_dir/crl` when `persistent` (not for `check-config`, which writes nothing).
    public static func crlCache(for config: GatewayConfig, persistent: Bool) -> CRLCache {
        let crl = config.store.crl
        // No CRL location may point at the admin API (a certificate's URL is input from outside).
        let refusing = CRLAddressPolicy(adminHost: config.gateway.admin?.host, adminPort: config.gateway.admin?.port)
        let fetcher = HTTPCRLFetcher(proxy: crl.proxy.map { .init(host: $0.host, port: $0.port) }, timeout: crl.timeout, refusing: refusing)
        let directory = persistent ? config.gateway.dataDir.appendingPathComponent("crl") : nil
        return CRLCache(fetcher: fetcher, directory: directory, maxAge: crl.maxAge, checkTimeout: crl.timeout)
    }

    /// Where a self-signed entry's files live.
    public static func selfSignedFiles(for name: String, in config: GatewayConfig) -> (certificate: URL, key: URL) {
        let folder = config.gateway.dataDir.appendingPathComponent("certificates")
        return (folder.appendingPathComponent("\(name).crt"), folder.appendingPathComponent("\(name).key"))
    }

    public func load(selfSigned mode: SelfSignedMode) async -> Outcome {
        var diagnostics: [ConfigDiagnostic] = []
        var pending: [String] = []
        var entries: [CertificateStore.Entry] = []
        var locations: [String: SourceLocation] = [:]

        for entry in config.store.certificates {
            locations[entry.name] = entry.location
            switch entry.source {
            case .files(let spec):
                entries.append(.init(name: entry.name, files: CertificateFiles(
                    certificate: spec.cert, key: spec.key, chain: spec.chain, passphrase: spec.passphrase, useCRL: spec.useCRL,
                    acknowledgeSelfSigned: spec.acknowledgeInsecure)))
            case .selfSigned(let spec):
                let files = Self.selfSignedFiles(for: entry.name, in: config)
                let exists = FileManager.default.fileExists(atPath: files.certificate.path)
                if !exists {
                    guard mode == .generate else {
                        pending.append(entry.name)
                        continue
                    }
                    do {
                        let pair = try SelfSignedCertificate.generate(
                            commonName: spec.cn, bits: spec.bits, days: spec.days,
                            subject: spec.subject.map { .init(key: $0.key, value: $0.value) })
                        _ = try SelfSignedCertificate.write(pair, name: entry.name, to: files.certificate.deletingLastPathComponent())
                    } catch {
                        diagnostics.append(ConfigDiagnostic(location: entry.location, message: "certificate \(entry.name): cannot generate the self-signed certificate: \(error)"))
                        continue
                    }
                }
                // The config refuses a self_signed entry without acknowledge_insecure: true.
                entries.append(.init(name: entry.name, files: CertificateFiles(
                    certificate: files.certificate.path, key: files.key.path, acknowledgeSelfSigned: spec.acknowledgeInsecure)))
            }
        }

        let store = await CertificateStore.load(
            entries: entries,
            trust: config.store.trust.map { CertificateStore.TrustFiles(name: $0.name, file: $0.file, crl: $0.crl) },
            crlSource: crlCache)

        for item in store.items {
            let location = locations[item.name] ?? .start
            for check in item.checks {
                guard let problem = check.problem else { continue }
                diagnostics.append(ConfigDiagnostic(location: location, message: Self.describe(item.name, problem, detail: check.detail)))
            }
        }
        for bundle in store.trustBundles {
            guard let failure = bundle.failure, let entry = config.store.trust.first(where: { $0.name == bundle.name }) else { continue }
            diagnostics.append(Self.diagnostic(bundle.name, failure, entry: entry))
        }
        return Outcome(store: store, diagnostics: diagnostics.sorted { $0.location < $1.location }, pendingSelfSigned: pending)
    }

    /// A trust bundle's problem, at its entry (or at its `crl:` for a problem of the CRLs):
    /// `trust corp: <section-5 unreadable message> (unreadable; detail)` for a file that
    /// cannot be read, `trust corp: detail` for a CRL no CA of the bundle signed.
    static func diagnostic(_ name: String, _ problem: CertificateStore.TrustBundle.Problem, entry: TrustEntry) -> ConfigDiagnostic {
        switch problem {
        case .unreadable(let detail):
            ConfigDiagnostic(location: entry.location, message: "trust \(name): \(CertificateProblem.unreadable.message) (unreadable; \(detail))")
        case .unreadableRevocationList(let detail):
            ConfigDiagnostic(location: entry.crlLocation ?? entry.location, message: "trust \(name): the crl: file is not a CRL in PEM or DER format (unreadable; \(detail))")
        case .foreignRevocationList(let detail):
            ConfigDiagnostic(location: entry.crlLocation ?? entry.location, message: "trust \(name): \(detail)")
        }
    }

    /// `certificate sensor-1: <section-5 message> (code; detail)`
    static func describe(_ name: String, _ problem: CertificateProblem, detail: String?) -> String {
        let context = [problem.code.rawValue, detail].compactMap { $0 }.joined(separator: "; ")
        return "certificate \(name): \(problem.message) (\(context))"
    }
}
