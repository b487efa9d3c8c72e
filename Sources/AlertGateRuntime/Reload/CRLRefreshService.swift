import AlertGateCore
import AlertGatePKI
import Foundation
import Logging
import ServiceLifecycle

/// Checks the certificate store again whenever a CRL it uses is due (its nextUpdate, or
/// `store.crl.max_age`), so that a certificate a fresh CRL revokes is marked invalid
/// while the gateway runs, and links and listeners take the rechecked store.
final class CRLRefreshService: Service {
    private let reloader: GatewayReloader

    init(reloader: GatewayReloader) {
        self.reloader = reloader
    }

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    let due = await self.reloader.nextCRLDue()
                    try await Task.sleep(for: .seconds(max(1, due.timeIntervalSinceNow)))
                    await self.reloader.recheckCertificates(reason: "CRL refresh")
                }
            }
        } catch is CancellationError {
            // Graceful shutdown cancels the schedule mid-sleep: a clean stop.
        }
    }
}

extension GatewayReloader {
    /// Loads the store's files again with the config in use and publishes the result,
    /// keeping still-valid previous certificates where new files fail; logs every
    /// certificate whose state changed.
    public func recheckCertificates(reason: String) async {
        let outcome = await currentLoader.load(selfSigned: .generate)
        let (next, changes) = outcome.store.keepingValidItems(of: store)
        for change in changes {
            switch change {
            case .keptPrevious(let name, let refused):
                logger.error("certificate refused; the previous one stays in use: \(refused.problem?.message ?? "")", metadata: Self.metadata(name, refused))
            case .nowInvalid(let name, let failure):
                logger.error("certificate is no longer valid: \(failure.problem?.message ?? "")", metadata: Self.metadata(name, failure))
            case .replaced(let name):
                logger.info("certificate replaced", metadata: ["certificate": "\(name)"])
            case .restored(let name):
                logger.info("certificate valid again", metadata: ["certificate": "\(name)"])
            }
        }
        logger.info("certificate store checked", metadata: ["reason": "\(reason)", "certificates": "\(next.items.count)", "invalid": "\(next.items.filter { !$0.isValid }.count)"])
        await storeRechecked(next)
    }

    /// The earliest refresh date of the CRLs the store's certificates use; with none
    /// cached, `max_age` from now.
    func nextCRLDue() async -> Date {
        let loader = currentLoader
        var due = Date().addingTimeInterval(loader.config.store.crl.maxAge.seconds)
        for item in store.items where item.report.files.useCRL {
            for url in item.certificate?.crlDistributionPoints ?? [] {
                if let date = await loader.crlCache.refreshDate(for: url) {
                    due = min(due, date)
                }
            }
        }
        return due
    }

    static func metadata(_ name: String, _ result: CheckResult) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["certificate": "\(name)", "code": "\(result.code.rawValue)"]
        if let detail = result.detail { metadata["detail"] = "\(detail)" }
        return metadata
    }
}
