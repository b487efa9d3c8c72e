import Foundation

/// The outcome of one reload: when it ran, and what made it fail (nothing changed then).
public struct ReloadReport: Sendable, Equatable {
    public var at: Date
    public var ok: Bool
    public var errors: [String]

    public init(at: Date, ok: Bool, errors: [String]) {
        self.at = at
        self.ok = ok
        self.errors = errors
    }
}
