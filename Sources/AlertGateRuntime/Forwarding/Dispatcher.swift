import AlertGateCore
import AlertGateSpool
import Logging

/// Moves one queue's alerts to its partner over the queue's link: reads batches from the
/// spool, keeps up to `window` of them in flight, and moves the spool's cursor over what
/// the partner accepted. A batch the partner could not take now (connection failed,
/// 429/503) makes it send nothing new until the batches in flight are back, then start
/// again after the cursor (the link pool waits out the backoff). A batch the partner
/// answered "later" (429/503) waits on its own, its Retry-After or a short backoff, while
/// the others keep going; a batch refused for good goes to the dead-letter file with the
/// partner's answer.
actor Dispatcher {
    let key: Spool.Key
    private let queue: SpoolQueue
    private let pool: LinkPool
    private let limits: PartnerSettings.BatchLimits
    private let window: Int
    private let deadLetters: DeadLetterFile
    private let counters: ForwardingCounters
    private let logger: Logger
    private var progress = DeliveryProgress(cursor: 0)
    /// Batches the partner deferred, with when to send each again.
    private var deferred: [(batch: SpoolBatch, due: ContinuousClock.Instant)] = []
    /// Deferrals since the last batch the partner took: the backoff of the next one.
    private var deferrals = 0
    private var random = SystemRandomNumberGenerator()
    /// The wait before resending a deferred batch whose answer named none.
    private static let deferral = Backoff(initial: .milliseconds(50), maximum: .seconds(5))
    private var stopping = false
    /// A wait (for entries, or to fill a batch) that `stop()` cuts short.
    private var pause: Task<Void, Never>?

    private struct Completion: Sendable {
        var batch: SpoolBatch
        var report: DeliveryReport
    }

    init(key: Spool.Key, queue: SpoolQueue, pool: LinkPool, limits: PartnerSettings.BatchLimits, window: Int = 8, deadLetters: DeadLetterFile, counters: ForwardingCounters, logger: Logger) {
        self.key = key
        self.queue = queue
        self.pool = pool
        self.limits = limits
        self.window = window
        self.deadLetters = deadLetters
        self.counters = counters
        var logger = logger
        logger[metadataKey: "partner"] = "\(key.partner)"
        logger[metadataKey: "appliance"] = "\(key.appliance)"
        self.logger = logger
    }

    /// Sends until `stop()`; then lets the batches in flight finish and returns.
    func run() async {
        progress = DeliveryProgress(cursor: await queue.acknowledged)
        await counters.setDepth(await queue.depth, of: key)
        let link = LinkPool.Key(appliance: key.appliance, partner: key.partner)
        await withTaskGroup(of: Completion.self) { group in
            var inFlight = 0
            var filled = false
            while true {
                if progress.rewinding, inFlight == 0 {
                    // Read again from the cursor: deferred batches come with it.
                    progress.rewind()
                    deferred.removeAll()
                }
                if stopping, inFlight == 0 { break }
                if !stopping, !progress.rewinding, inFlight < window, let index = deferred.firstIndex(where: { $0.due <= .now }) {
                    let batch = deferred.remove(at: index).batch
                    inFlight += 1
                    let pool = pool
                    group.addTask {
                        Completion(batch: batch, report: await pool.deliver(batch.alerts, over: link))
                    }
                    continue
                }
                if !stopping, !progress.rewinding, inFlight < window {
                    let batch = await nextBatch()
                    if !batch.isEmpty {
                        // Few alerts and nothing in flight: wait up to max_delay for a fuller batch.
                        if batch.count < limits.maxAlerts, inFlight == 0, !filled, limits.maxDelay > .zero {
                            filled = true
                            await wait(for: limits.maxDelay)
                            continue
                        }
                        filled = false
                        progress.sent(through: batch.sequences[batch.count - 1])
                        inFlight += 1
                        let pool = pool
                        group.addTask {
                            Completion(batch: batch, report: await pool.deliver(batch.alerts, over: link))
                        }
                        continue
                    }
                }
                if inFlight == 0 {
                    if let due = deferred.map(\.due).min() {
                        await wait(for: max(.zero, due - .now))
                    } else {
                        await waitForEntries()
                    }
                    continue
                }
                guard let completion = await group.next() else { continue }
                inFlight -= 1
                await settle(completion)
            }
        }
    }

    /// Stops sending new batches; `run()` returns once those in flight are back.
    func stop() {
        stopping = true
        pause?.cancel()
    }

    // MARK: Steps

    private func nextBatch() async -> SpoolBatch {
        do {
            var batch = try await queue.batch(after: progress.readPosition, limit: limits.maxAlerts)
            if !progress.done.isEmpty {
                // After a failure: what later batches already delivered is not sent again.
                batch.removeAll(where: progress.isDone)
            }
            return batch
        } catch {
            logger.error("cannot read the spool: \(error)")
            await wait(for: .seconds(1))
            return SpoolBatch()
        }
    }

    private func settle(_ completion: Completion) async {
        let batch = completion.batch
        let report = completion.report
        let accepted = min(report.accepted, batch.count)
        var finished = Array(batch.sequences.prefix(accepted))
        switch report.outcome {
        case .delivered:
            finished = batch.sequences
            counters.forwarded(batch.count, partner: key.partner)
            deferrals = 0
        case .rejected(let reason):
            counters.forwarded(accepted, partner: key.partner)
            let refused = batch.suffix(from: accepted)
            do {
                try await deadLetters.write(refused.alerts, partner: key.partner, appliance: key.appliance, reason: reason)
                finished += refused.sequences
                counters.failed(refused.count, partner: key.partner, reason: "rejected")
                logger.error("partner rejected \(refused.count) alerts; written to \(deadLetters.path(partner: key.partner).path): \(reason)")
            } catch {
                // Not written anywhere else: they stay in the spool and are sent again.
                logger.error("partner rejected \(refused.count) alerts and the dead-letter file cannot be written (\(error)); they stay in the spool")
                progress.failed()
            }
        case .deferred(let after, let reason):
            counters.forwarded(accepted, partner: key.partner)
            let rest = batch.suffix(from: accepted)
            counters.failed(rest.count, partner: key.partner, reason: "deferred")
            let wait = after ?? Self.deferral.delay(attempt: deferrals, random: Double.random(in: 0..<1, using: &random))
            if deferrals == 0 {
                logger.warning("partner asked for \(rest.count) alerts later; sending them again in \(wait), the others go on: \(reason.message)")
            }
            deferrals += 1
            deferred.append((rest, .now + wait))
        case .retry(_, let reason):
            counters.forwarded(accepted, partner: key.partner)
            counters.failed(batch.count - accepted, partner: key.partner, reason: reason.check ?? "unavailable")
            if !progress.rewinding {
                logger.warning(
                    "not delivered, will retry: \(reason.message)",
                    metadata: reason.check.map { ["check": "\($0)"] } ?? [:])
            }
            progress.failed()
        }
        if let cursor = progress.accepted(finished) {
            do {
                try await queue.acknowledge(through: cursor)
            } catch {
                logger.error("cannot move the spool's cursor: \(error)")
            }
            await counters.setDepth(await queue.depth, of: key)
        }
    }

    private func waitForEntries() async {
        let queue = queue
        let after = progress.readPosition
        await pausing { await queue.waitForEntries(after: after) }
    }

    private func wait(for duration: Duration) async {
        await pausing { try? await Task.sleep(for: duration) }
    }

    /// Runs a wait that `stop()` (or cancelling `run()`) cuts short.
    private func pausing(_ operation: @escaping @Sendable () async -> Void) async {
        let task = Task { await operation() }
        pause = task
        if stopping { task.cancel() }
        await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
        pause = nil
    }
}
