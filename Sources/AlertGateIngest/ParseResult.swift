import AlertGateCore

/// What `AlertParser.parse` made of one message: the alert (always one: nothing is
/// dropped), which formats it recognised, and what was wrong with it.
public struct ParseResult: Sendable, Hashable {
    public var alert: Alert
    /// The syslog envelope (`.rfc5424`, `.rfc3164`, or neither) and the payload (`.cef`,
    /// `.leef`, `.json`, or `.raw` when none of those parsed and the alert carries the text
    /// as it came). alertgate's own RFC 5424 text payload (`title: message`, recognised by
    /// its structured data) is `[.rfc5424]` alone.
    public var recognized: RecognizedFormats
    public var problems: ParseProblems

    public init(alert: Alert, recognized: RecognizedFormats, problems: ParseProblems) {
        self.alert = alert
        self.recognized = recognized
        self.problems = problems
    }
}

/// The formats `AlertParser` recognised in a message.
public struct RecognizedFormats: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`
    public static let rfc5424 = RecognizedFormats(rawValue: 1 << 0)
    /// `<PRI>Mmm dd hh:mm:ss host tag: msg`
    public static let rfc3164 = RecognizedFormats(rawValue: 1 << 1)
    /// `CEF:0|vendor|product|version|signature|name|severity|extension`
    public static let cef = RecognizedFormats(rawValue: 1 << 2)
    /// `LEEF:1.0|…` or `LEEF:2.0|…`
    public static let leef = RecognizedFormats(rawValue: 1 << 3)
    /// A JSON object with at least `title` and `severity` (the webhook schema).
    public static let json = RecognizedFormats(rawValue: 1 << 4)
    /// No known payload: the alert's `raw` is the message as received.
    public static let raw = RecognizedFormats(rawValue: 1 << 5)

    public var description: String {
        let names: [(RecognizedFormats, String)] = [
            (.rfc5424, "rfc5424"), (.rfc3164, "rfc3164"), (.cef, "cef"), (.leef, "leef"), (.json, "json"), (.raw, "raw"),
        ]
        return "[" + names.filter { contains($0.0) }.map(\.1).joined(separator: ", ") + "]"
    }
}

/// What was wrong with a message that was parsed anyway.
public struct ParseProblems: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// Bytes that are not UTF-8 were replaced with U+FFFD before parsing.
    public static let invalidUTF8 = ParseProblems(rawValue: 1 << 0)
    /// A timestamp was there but could not be read (a named zone other than UTC/GMT, an
    /// impossible date); the alert's `time` comes from elsewhere or is nil.
    public static let unreadableTime = ParseProblems(rawValue: 1 << 1)

    public var description: String {
        let names: [(ParseProblems, String)] = [(.invalidUTF8, "invalidUTF8"), (.unreadableTime, "unreadableTime")]
        return "[" + names.filter { contains($0.0) }.map(\.1).joined(separator: ", ") + "]"
    }
}
