import Synchronization

/// The disk quota shared by every queue of a spool (`gateway.spool.max_size`), and each
/// appliance's share of it (`gateway.spool.max_size_per_appliance`): a queue reserves the
/// bytes of a batch before writing it and gives back what a deleted segment held. One
/// partner's backlog thus counts against the same quota as every other's, and the refusal
/// comes before anything is written.
///
/// The share keeps one appliance from starving the others: a flood attributed to one
/// source fills its own share and is refused there (webhook 503, syslog backpressure, as
/// for a full spool), while the other appliances' alerts are still taken.
public final class SpoolBudget: Sendable {
    public let quota: Int
    private let state: Mutex<State>

    private struct State {
        var used = 0
        var byAppliance: [String: Int] = [:]
        var applianceQuota: Int
    }

    /// A batch that did not fit, and whose limit it met.
    public enum Refusal: Sendable, Hashable {
        case spool
        case appliance(String)
    }

    /// - Parameter applianceQuota: the most one appliance's queues hold together; nil or
    ///   more than `quota` means `quota`.
    public init(quota: Int, applianceQuota: Int? = nil) {
        self.quota = quota
        state = Mutex(State(applianceQuota: min(quota, applianceQuota ?? quota)))
    }

    /// Bytes held by the spool's segment files (and writes on their way).
    public var usedBytes: Int {
        state.withLock { $0.used }
    }

    public var applianceQuota: Int {
        state.withLock { $0.applianceQuota }
    }

    /// Bytes held for one appliance's alerts, in the queues of every partner.
    public func usedBytes(appliance: String) -> Int {
        state.withLock { $0.byAppliance[appliance, default: 0] }
    }

    /// A new share (a reload changed the appliances): applies to the next reservation.
    public func setApplianceQuota(_ bytes: Int) {
        state.withLock { $0.applianceQuota = min(quota, max(1, bytes)) }
    }

    /// Takes the bytes of each appliance if they all fit, in the spool and in each share;
    /// otherwise takes nothing and says which limit refused.
    func reserve(_ bytes: [String: Int]) -> Refusal? {
        state.withLock { state in
            let total = bytes.values.reduce(0, +)
            guard state.used + total <= quota else { return .spool }
            for (appliance, count) in bytes.sorted(by: { $0.key < $1.key })
            where state.byAppliance[appliance, default: 0] + count > state.applianceQuota {
                return .appliance(appliance)
            }
            state.used += total
            for (appliance, count) in bytes {
                state.byAppliance[appliance, default: 0] += count
            }
            return nil
        }
    }

    /// Counts bytes that are already on disk (recovery), quota or not.
    func add(_ bytes: Int, appliance: String) {
        state.withLock {
            $0.used += bytes
            $0.byAppliance[appliance, default: 0] += bytes
        }
    }

    func release(_ bytes: Int, appliance: String) {
        state.withLock {
            $0.used = max(0, $0.used - bytes)
            $0.byAppliance[appliance] = max(0, $0.byAppliance[appliance, default: 0] - bytes)
        }
    }
}
