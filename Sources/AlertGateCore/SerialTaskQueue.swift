import Synchronization

/// Runs asynchronous operations one at a time, in the order they were asked for, each
/// starting once the previous one has finished. An actor alone does not give that: it
/// interleaves its methods at every `await`, and a reload that awaits a bind or a CRL
/// fetch must not see another reload (or a stop) change the state halfway through it.
public final class SerialTaskQueue: Sendable {
    /// The end of the operation asked for last.
    private let last = Mutex<Task<Void, Never>?>(nil)

    public init() {}

    public func run<T: Sendable>(_ operation: @escaping @Sendable () async -> T) async -> T {
        let task = last.withLock { last in
            let previous = last
            let task = Task {
                await previous?.value
                return await operation()
            }
            last = Task { _ = await task.value }
            return task
        }
        return await task.value
    }
}
