/// How serious an alert is. Ordered: `warning < minor < major < critical`, as forwarding
/// rules compare them (`min_severity`).
public enum Severity: String, Sendable, CaseIterable, Comparable, Codable {
    case warning
    case minor
    case major
    case critical

    private var rank: Int {
        switch self {
        case .warning: 0
        case .minor: 1
        case .major: 2
        case .critical: 3
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool {
        lhs.rank < rhs.rank
    }

    /// Maps a numeric severity to a level: CEF's 0–10 scale (Defender's 1/4/8/10 included)
    /// gives warning 0–3, minor 4–6, major 7–8, critical 9–10.
    public init?(numeric value: Int) {
        switch value {
        case 0...3: self = .warning
        case 4...6: self = .minor
        case 7...8: self = .major
        case 9...10: self = .critical
        default: return nil
        }
    }
}
