/// How each partner format spells a severity.
extension Severity {
    /// The CEF header severity Defender for IoT sends: 1, 4, 8 or 10 (the ingest side reads
    /// these back through `init(numeric:)`).
    public var cefSeverity: Int {
        switch self {
        case .warning: 1
        case .minor: 4
        case .major: 8
        case .critical: 10
        }
    }

    /// The word Defender for IoT uses (`severity=Major`).
    public var displayName: String {
        displayWord.description
    }

    /// The RFC 5424 severity (§6.2.1) of the syslog envelope: critical → 2 (Critical),
    /// major → 3 (Error), minor → 4 (Warning), warning → 5 (Notice). Defender's own
    /// "User.Alert" puts every alert at 1 (Alert), which tells a syslog server nothing; a
    /// graded value lets the server's filters (`*.crit`, `*.err`) tell alerts apart.
    public var syslogSeverity: Int {
        switch self {
        case .critical: 2
        case .major: 3
        case .minor: 4
        case .warning: 5
        }
    }

    /// `rawValue`, without building a String.
    var word: StaticString {
        switch self {
        case .warning: "warning"
        case .minor: "minor"
        case .major: "major"
        case .critical: "critical"
        }
    }

    /// `displayName`, without building a String.
    var displayWord: StaticString {
        switch self {
        case .warning: "Warning"
        case .minor: "Minor"
        case .major: "Major"
        case .critical: "Critical"
        }
    }
}
