import AlertGateConfig
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// What starts a reload while the gateway runs: SIGHUP, and (with `store.watch`) a change
/// to config.yaml or to a certificate, key, chain, trust or CRL file the store names.
/// `POST /v1/reload` calls the reloader directly.
final class ReloadService: Service {
    private let reloader: GatewayReloader
    private let configPath: String
    private let signals: UnixSignalsSequence
    private let logger: Logger

    /// - Parameter signals: SIGHUP, trapped by the caller before the gateway announces that
    ///   it runs, so a signal sent right after never meets the default action (exit).
    init(reloader: GatewayReloader, configPath: String, signals: UnixSignalsSequence, logger: Logger) {
        self.reloader = reloader
        self.configPath = configPath
        self.signals = signals
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await _ in self.signals {
                        _ = await self.reloader.reload(reason: "SIGHUP")
                    }
                }
                group.addTask { await self.reloadOnFileChanges() }
            }
        }
    }

    /// Watches the files `store.watch` asks for, and follows each reload: one that turns
    /// `store.watch` on starts the watcher, one that turns it off stops it, one that names
    /// other files watches those.
    private func reloadOnFileChanges() async {
        var config = await reloader.config
        let changes = reloader.configChanges
        let configPath = configPath
        while !Task.isCancelled {
            let wanted = config.store.watch ? Self.watchedFiles(config, configPath: configPath) : nil
            if let wanted {
                logger.info("store.watch: watching config.yaml and \(wanted.count - 1) store files for changes")
            } else {
                logger.info("store.watch is off: file changes do not reload (SIGHUP and POST /v1/reload do)")
            }
            // Until a reload wants another watch: nil when the gateway stops.
            let next: GatewayConfig? = await withTaskGroup(of: GatewayConfig?.self) { group in
                if let wanted {
                    group.addTask {
                        for await _ in FileWatcher.changes(of: wanted) {
                            _ = await self.reloader.reload(reason: "file change")
                        }
                        return nil
                    }
                }
                group.addTask {
                    for await changed in changes {
                        let files = changed.store.watch ? Self.watchedFiles(changed, configPath: configPath) : nil
                        if files != wanted { return changed }
                    }
                    return nil
                }
                while let result = await group.next() {
                    if let result {
                        group.cancelAll()
                        return result
                    }
                }
                return nil
            }
            guard let next else { return }
            config = next
        }
    }

    /// config.yaml and every file of the store (generated self-signed certificates are
    /// the gateway's own and are not watched).
    static func watchedFiles(_ config: GatewayConfig, configPath: String) -> [String] {
        var files = [URL(fileURLWithPath: configPath).standardizedFileURL.path]
        for entry in config.store.certificates {
            if case .files(let spec) = entry.source {
                files += [spec.cert] + [spec.key, spec.chain].compactMap { $0 }
            }
        }
        for trust in config.store.trust {
            files += [trust.file] + [trust.crl].compactMap { $0 }
        }
        return files
    }
}
