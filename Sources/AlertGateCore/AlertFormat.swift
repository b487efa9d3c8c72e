/// The payload format a partner receives (config `partners[].format`, docs/reference.md §4).
public enum AlertFormat: String, Sendable, CaseIterable {
    /// ArcSight Common Event Format, laid out as Defender for IoT's "Syslog CEF" forwarding.
    case cef
    /// IBM QRadar Log Event Extended Format 1.0, laid out as Defender's "Syslog LEEF".
    case leef
    /// One JSON object per alert, on one line.
    case json
    /// Plain text (`title: message`), for syslog servers that want a readable line.
    case rfc5424
}
