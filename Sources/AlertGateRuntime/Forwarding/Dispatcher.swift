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
/// partner's answer, and so does a record this version cannot read back.
///
/// What is in flight is kept on disk while it is (`CrashGuard`): a record that kills the
/// process as it is formatted or sent is sent alone at the next start, and set aside to
/// the dead-letter file if the process dies with it again.
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
    private var crashGuard = CrashGuard(left: nil, acknowledged: 0)
    /// The sequences of each batch handed to the link and not yet back.
    private var sending: [ClosedRange<UInt64>] = []
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
        crashGuard = CrashGuard(left: queue.leftInFlight, acknowledged: progress.cursor)
        await startGuarded()
        let link = LinkPool.Key(appliance: key.appliance, partner: key.partner)
        await withTaskGroup(of: Completion.self) { group in
            var inFlight = 0
            var filled = false
            while true {
                // Cancelled (the service group winds down after a failure): every wait
                // returns at once, so stop as `stop()` would rather than spin.
                if Task.isCancelled { stopping = true }
                // One batch at a time, of one alert, over what a run died sending.
                let window = crashGuard.isNarrowing(after: progress.readPosition) ? 1 : self.window
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
                        Completion(batch: batch, report: await pool.deliver(batch.alerts, over: link) { await self.markSending(batch) })
                    }
                    continue
                }
                if !stopping, !progress.rewinding, inFlight < window {
                    let batch = await nextBatch()
                    if !batch.isEmpty {
                        // Few alerts and nothing in flight: wait up to max_delay for a fuller batch.
                        if batch.count < crashGuard.batchLimit(after: progress.readPosition, otherwise: limits.maxAlerts), inFlight == 0, !filled,
                            limits.maxDelay > .zero
                        {
                            filled = true
                            await wait(for: limits.maxDelay)
                            continue
                        }
                        filled = false
                        progress.sent(through: batch.sequences[batch.count - 1])
                        inFlight += 1
                        let pool = pool
                        group.addTask {
                            Completion(batch: batch, report: await pool.deliver(batch.alerts, over: link) { await self.markSending(batch) })
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
            let limit = crashGuard.batchLimit(after: progress.readPosition, otherwise: limits.maxAlerts)
            var batch = try await queue.batch(after: progress.readPosition, limit: limit)
            if !progress.done.isEmpty {
                // After a failure: what later batches already delivered is not sent again.
                batch.removeAll(where: progress.isDone)
            }
            let unreadable = batch.takeUnreadable()
            if !unreadable.isEmpty {
                guard await setAside(unreadable, reason: "the spool record cannot be read back as an alert by this version") else {
                    await wait(for: .seconds(1))
                    return SpoolBatch()
                }
                if batch.isEmpty, let last = unreadable.last?.sequence {
                    progress.sent(through: last)
                }
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
        await settledSending(batch)
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
            counters.retried(rest.count, partner: key.partner, reason: "deferred")
            let wait = after ?? Self.deferral.delay(attempt: deferrals, random: Double.random(in: 0..<1, using: &random))
            if deferrals == 0 {
                logger.warning("partner asked for \(rest.count) alerts later; sending them again in \(wait), the others go on: \(reason.message)")
            }
            deferrals += 1
            deferred.append((rest, .now + wait))
        case .retry(_, let reason):
            counters.forwarded(accepted, partner: key.partner)
            counters.retried(batch.count - accepted, partner: key.partner, reason: reason.check ?? "unavailable")
            if !progress.rewinding {
                logger.warning(
                    "not delivered, will retry: \(reason.message)",
                    metadata: reason.check.map { ["check": "\($0)"] } ?? [:])
            }
            progress.failed()
        }
        await accept(finished)
    }

    /// The partner took these (or they went to the dead-letter file): the cursor moves over
    /// what is contiguous.
    private func accept<S: Sequence<UInt64>>(_ sequences: S) async {
        guard let cursor = progress.accepted(sequences) else { return }
        crashGuard.passed(cursor)
        do {
            try await queue.acknowledge(through: cursor)
        } catch {
            logger.error("cannot move the spool's cursor: \(error)")
        }
    }

    // MARK: Crash guard and records set aside

    /// Acts on what the previous run left in flight: says so, and sets a record aside
    /// when runs died twice with it alone in flight.
    private func startGuarded() async {
        switch crashGuard.start {
        case .clean:
            // A marker that names nothing of this log any more (behind the cursor, or from
            // before a renumbering) is cleared below too: kept, a death before the first
            // send would make it count against a record it never named.
            break
        case .narrow(let range):
            logger.warning("the previous run stopped while sending alerts \(range.lowerBound)…\(range.upperBound) of this queue; they are sent one at a time")
        case .setAside(let sequence):
            do {
                var batch = try await queue.batch(after: sequence - 1, limit: 1)
                let reason = "set aside: the gateway stopped twice while sending it"
                var records = batch.takeUnreadable().filter { $0.sequence == sequence }
                if batch.sequences.first == sequence {
                    try await deadLetters.write(Array(batch.alerts.prefix(1)), partner: key.partner, appliance: key.appliance, reason: reason)
                } else if records.isEmpty {
                    records = [(sequence, [])]
                }
                if !records.isEmpty {
                    try await deadLetters.writeUnreadable(records, partner: key.partner, appliance: key.appliance, reason: reason)
                }
                counters.failed(1, partner: key.partner, reason: "set-aside")
                logger.error("alert \(sequence) of this queue set aside after two crashes while sending it; written to \(deadLetters.path(partner: key.partner).path)")
                await accept([sequence])
            } catch {
                logger.error("alert \(sequence) of this queue was being sent at two crashes and cannot be set aside (\(error)); it is sent again")
            }
        }
        do {
            try await queue.markInFlight(nil)
        } catch {
            logger.error("cannot clear the in-flight marker: \(error)")
        }
    }

    /// Records that cannot be sent as alerts go to the dead-letter file; false if it
    /// cannot be written (they stay in the spool).
    private func setAside(_ records: [(sequence: UInt64, record: [UInt8])], reason: String) async -> Bool {
        do {
            try await deadLetters.writeUnreadable(records, partner: key.partner, appliance: key.appliance, reason: reason)
        } catch {
            logger.error("\(records.count) spool records cannot be read and the dead-letter file cannot be written (\(error)); they stay in the spool")
            return false
        }
        counters.failed(records.count, partner: key.partner, reason: "unreadable")
        logger.error("\(records.count) spool records cannot be read as alerts; written to \(deadLetters.path(partner: key.partner).path)")
        await accept(records.map(\.sequence))
        return true
    }

    /// Stores what is in flight with `batch` before it goes out: run by the link pool once
    /// the link's backoff wait is over, right before the sender gets the alerts.
    private func markSending(_ batch: SpoolBatch) async {
        guard let first = batch.sequences.first, let last = batch.sequences.last else { return }
        sending.append(first...last)
        let all = sending.map(\.lowerBound).min()!...sending.map(\.upperBound).max()!
        do {
            try await queue.markInFlight(crashGuard.marker(inFlight: all))
        } catch {
            logger.error("cannot store the in-flight marker: \(error)")
        }
    }

    private func settledSending(_ batch: SpoolBatch) async {
        guard let first = batch.sequences.first, let last = batch.sequences.last,
            let index = sending.firstIndex(of: first...last)
        else { return }
        sending.remove(at: index)
        if sending.isEmpty {
            do {
                try await queue.markInFlight(nil)
            } catch {
                logger.error("cannot clear the in-flight marker: \(error)")
            }
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
