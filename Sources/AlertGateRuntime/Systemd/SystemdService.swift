import AlertGateSpool
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Tells systemd what the gateway is doing (`Type=notify`, docs/install.md): `READY=1`
/// once the listeners and the admin API are bound and the services run, `WATCHDOG=1` at
/// half of `WatchdogSec` for as long as the gateway proves itself alive, `STOPPING=1` when
/// a stop begins. Reloads notify through `GatewayReloader`.
///
/// Alive means: every event loop runs a task it is given, and every spool queue answers.
/// A gateway stuck in either sends no keep-alive, and systemd restarts it; nothing here
/// times out on its own, since a late answer is exactly what the watchdog is for.
final class SystemdService: Service {
    private let notifier: SystemdNotifier
    private let running: AsyncStream<String>
    private let group: any EventLoopGroup
    private let spool: Spool
    private let logger: Logger

    /// `running` yields the status line once the gateway runs (`ListenerService`'s
    /// announcement).
    init(notifier: SystemdNotifier, running: AsyncStream<String>, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, spool: Spool, logger: Logger) {
        self.notifier = notifier
        self.running = running
        self.group = group
        self.spool = spool
        self.logger = logger
    }

    func run() async throws {
        var announcements = running.makeAsyncIterator()
        guard let status = await announcements.next() else { return }
        notifier.ready(status: status)
        if let interval = notifier.watchdogInterval {
            try? await cancelWhenGracefulShutdown { try await self.keepAlive(every: interval) }
        } else {
            try? await gracefulShutdown()
        }
        notifier.stopping()
    }

    private func keepAlive(every interval: Duration) async throws {
        while true {
            try await Task.sleep(for: interval)
            try await provesAlive()
            notifier.watchdog()
        }
    }

    private func provesAlive() async throws {
        for loop in group.makeIterator() {
            try await loop.submit {}.get()
        }
        for key in spool.keys {
            _ = try? await spool.queue(for: key).depth
        }
    }
}
