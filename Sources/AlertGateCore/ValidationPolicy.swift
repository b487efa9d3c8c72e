/// An appliance's certificate-validation policy for the peers it talks to (docs/reference.md §6).
public enum ValidationPolicy: String, Sendable, CaseIterable, Codable {
    /// A failed check refuses the connection; nothing is sent.
    case required
    /// Every check still runs; a failure is logged and counted, but the connection proceeds.
    case none
}
