import AlertGateCore
import AlertGatePKI
import Foundation
import Logging
import ServiceLifecycle

/// Fetches CRLs again when they are due (their nextUpdate, or `store.crl.max_age`) — those
/// of the store's certificates and those the partners' and senders' certificates used —
/// then checks the store again, and every open connection's verified chain against the
/// fresh CRLs: a certificate a fresh CRL revokes is marked invalid, and a connection to a
/// partner (or from a sensor) it revokes is closed under `required`. Connections nothing
/// happened to stay open; links are reopened only when a store certificate changed.
final class CRLRefreshService: Service {
    private let reloader: GatewayReloader

    init(reloader: GatewayReloader) {
        self.reloader = reloader
    }

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                // A CRL server that is down keeps its CRLs due: wait longer after each failed
                // round (1 s, 2 s, 4 s … 60 s) rather than retrying every second.
                var failedRounds = 0
                while true {
                    let due = await self.reloader.nextCRLDue()
                    let floor = failedRounds == 0 ? 1.0 : min(60, pow(2, Double(failedRounds)))
                    try await Task.sleep(for: .seconds(max(floor, due.timeIntervalSinceNow)))
                    failedRounds = await self.reloader.refreshDueCRLs() ? 0 : failedRounds + 1
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
        await queue.run { await self.recheckNow(reason: reason) }
    }

    private func recheckNow(reason: String) async {
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
        await storeRechecked(next, storeChanged: !changes.isEmpty)
    }

    /// The earliest refresh date of the CRLs in the cache (the store's certificates', and
    /// those partners and senders presented); with none cached, `max_age` from now.
    func nextCRLDue() async -> Date {
        let cache = currentLoader.crlCache
        var due = Date().addingTimeInterval(currentLoader.config.store.crl.maxAge.seconds)
        for url in await cache.cachedURLs {
            if let date = await cache.refreshDate(for: url) {
                due = min(due, date)
            }
        }
        return due
    }

    /// Fetches again every cached CRL that is due; one that cannot be fetched stays as it
    /// is (the next connection that needs it fails with crl-unreachable once it expires).
    /// Returns false when one could not be fetched.
    func refreshDueCRLs() async -> Bool {
        let cache = currentLoader.crlCache
        var fetchedAll = true
        for url in await cache.cachedURLs {
            guard let date = await cache.refreshDate(for: url), date <= Date() else { continue }
            do {
                _ = try await cache.refresh(url)
            } catch {
                fetchedAll = false
                logger.warning("CRL refresh failed: \(error)", metadata: ["url": "\(url)", "code": "crl-unreachable"])
            }
        }
        return fetchedAll
    }

    static func metadata(_ name: String, _ result: CheckResult) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["certificate": "\(name)", "code": "\(result.code.rawValue)"]
        if let detail = result.detail { metadata["detail"] = "\(detail)" }
        return metadata
    }
}
