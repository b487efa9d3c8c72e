/// How a syslog stream separates its messages (a partner's `framing`).
public enum SyslogFraming: String, Sendable, Hashable, CaseIterable {
    /// RFC 5425 / RFC 6587 §3.4.1: `MSG-LEN SP SYSLOG-MSG`; a message may hold any byte.
    case octetCounting = "octet-counting"
    /// RFC 6587 §3.4.2 non-transparent framing: one message a line. Receivers that split
    /// on LF (syslog-ng's `network()` source, many SIEM TCP inputs) need it; a line break
    /// inside a message is written as the two characters `\n` (`\r` likewise).
    case newline
}
