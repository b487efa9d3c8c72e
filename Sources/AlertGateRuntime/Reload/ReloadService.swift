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

    private func reloadOnFileChanges() async {
        while !Task.isCancelled {
            let config = await reloader.config
            guard config.store.watch else { return }
            let paths = Self.watchedFiles(config, configPath: configPath)
            for await _ in FileWatcher.changes(of: paths) {
                _ = await reloader.reload(reason: "file change")
                // A reload may name other files: watch those.
                if Self.watchedFiles(await reloader.config, configPath: configPath) != paths { break }
            }
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
