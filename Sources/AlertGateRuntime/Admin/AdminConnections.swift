import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// The admin server's open connections, at most `limit`. At the limit, a new connection
/// takes the place of the oldest one that is not in the middle of a request (one that has
/// sent nothing yet, or waits between requests); only when every connection is busy is the
/// new one refused. So a flood of idle connections delays a probe by at most one round
/// trip instead of shutting it out until the header timeout.
final class AdminConnections: Sendable {
    /// One connection: busy from a request's head until its answer is written.
    final class Slot: Sendable {
        let channel: any Channel
        /// Admission order: the lowest is the oldest.
        let order: UInt64
        private let busy = Atomic<Bool>(false)

        init(channel: any Channel, order: UInt64) {
            self.channel = channel
            self.order = order
        }

        var isBusy: Bool { busy.load(ordering: .acquiring) }

        func setBusy(_ value: Bool) {
            busy.store(value, ordering: .releasing)
        }
    }

    enum Admission {
        /// Admitted; `evicted` (if any) gave up its place and must be closed.
        case admitted(Slot, evicted: (any Channel)?)
        /// Every connection is busy.
        case refused
    }

    let limit: Int
    private let state = NIOLockedValueBox<(next: UInt64, slots: [ObjectIdentifier: Slot])>((0, [:]))

    init(limit: Int) {
        self.limit = limit
    }

    func admit(_ channel: any Channel) -> Admission {
        state.withLockedValue { state in
            var evicted: (any Channel)?
            if state.slots.count >= limit {
                guard let oldest = state.slots.filter({ !$0.value.isBusy }).min(by: { $0.value.order < $1.value.order }) else {
                    return .refused
                }
                state.slots[oldest.key] = nil
                evicted = oldest.value.channel
            }
            let slot = Slot(channel: channel, order: state.next)
            state.next += 1
            state.slots[ObjectIdentifier(channel)] = slot
            return .admitted(slot, evicted: evicted)
        }
    }

    func remove(_ channel: any Channel) {
        state.withLockedValue { _ = $0.slots.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    var count: Int {
        state.withLockedValue { $0.slots.count }
    }

    var channels: [any Channel] {
        state.withLockedValue { $0.slots.values.map(\.channel) }
    }
}
