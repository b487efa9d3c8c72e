import AlertGateConfig
import AlertGateCore
import AlertGatePKI
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Keeps the certificate store current while the gateway runs: checks it again when a CRL
/// is due (nextUpdate or `max_age`) and on SIGHUP, and publishes the new store whole.
/// A certificate whose new files fail keeps its old ones; one that a fresh CRL revokes is
/// marked invalid at once.
public final class CertificateStoreService: Service, Sendable {
    private let loader: StoreLoader
    private let current: Mutex<CertificateStore>
    private let logger: Logger
    private let reloadSignals: UnixSignalsSequence

    /// - Parameters:
    ///   - reloadSignals: SIGHUP, trapped by the caller before anything announces that the
    ///     gateway runs, so a signal sent right after never meets the default action (exit).
    public init(loader: StoreLoader, initial: CertificateStore, reloadSignals: UnixSignalsSequence, logger: Logger) {
        self.loader = loader
        self.current = Mutex(initial)
        self.reloadSignals = reloadSignals
        self.logger = logger
    }

    /// The store in use now.
    public var store: CertificateStore {
        current.withLock { $0 }
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask { try await self.refreshWhenCRLsAreDue() }
                    group.addTask {
                        for await _ in self.reloadSignals {
                            await self.recheck(reason: "SIGHUP")
                        }
                    }
                }
            }
        } catch is CancellationError {
            // Graceful shutdown cancels the refresh schedule mid-sleep: a clean stop.
        }
    }

    /// Loads the store again and publishes it (keeping still-valid previous certificates
    /// where new files fail), logging every certificate whose state changed.
    public func recheck(reason: String) async {
        let outcome = await loader.load(selfSigned: .generate)
        let previous = store
        let (next, changes) = outcome.store.keepingValidItems(of: previous)
        current.withLock { $0 = next }
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
    }

    private func refreshWhenCRLsAreDue() async throws {
        while true {
            let due = await nextCRLDue()
            let wait = max(1, due.timeIntervalSinceNow)
            try await Task.sleep(for: .seconds(wait))
            await recheck(reason: "CRL refresh")
        }
    }

    /// The earliest refresh date of the CRLs the store's certificates use; with none
    /// cached, `max_age` from now.
    private func nextCRLDue() async -> Date {
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
