import AlertGateConfig

/// Why listeners could not be built or started; each names the listener concerned.
public enum ListenerError: Error, Sendable, CustomStringConvertible {
    /// The listener's config cannot be used (its certificate, its appliances).
    case configuration(listener: String, String)
    /// The address could not be bound (in use, not local, no permission).
    case bind(listener: String, address: HostPort, reason: String)

    public var description: String {
        switch self {
        case .configuration(let listener, let reason):
            "listener \(listener): \(reason)"
        case .bind(let listener, let address, let reason):
            "listener \(listener): cannot listen on \(address): \(reason)"
        }
    }
}
