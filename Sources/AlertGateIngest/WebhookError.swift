/// Why a webhook body was refused. The description is what the sender reads in the 400
/// response: it names the alert (its index in the array; none for a body of one object),
/// the member, and what was expected.
public enum WebhookError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Nothing but whitespace.
    case emptyBody
    /// Not JSON: where it broke, from the start of the body.
    case malformedJSON(alert: Int?, offset: Int, reason: String)
    /// JSON, but neither an object nor an array (`found`: "a string", "a number", …).
    case notAlerts(found: String)
    /// An array element that is not an object.
    case notAnObject(alert: Int, found: String)
    /// `title` or `severity` absent.
    case missingField(alert: Int?, field: String)
    /// A member of the wrong JSON type.
    case wrongType(alert: Int?, field: String, found: String, expected: String)
    /// A member of the right type whose value means nothing (`"severity": "urgent"`).
    case invalidValue(alert: Int?, field: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .emptyBody:
            return "the body is empty: expected a JSON alert object or an array of them"
        case .malformedJSON(let alert, let offset, let reason):
            return Self.prefix(alert) + "bad JSON at byte \(offset): \(reason)"
        case .notAlerts(let found):
            return "the body is \(found): expected a JSON alert object or an array of them"
        case .notAnObject(let alert, let found):
            return "alert \(alert): \(found), not an alert object"
        case .missingField(let alert, let field):
            return Self.prefix(alert) + "missing \"\(field)\""
        case .wrongType(let alert, let field, let found, let expected):
            return Self.prefix(alert) + "\"\(field)\" is \(found), expected \(expected)"
        case .invalidValue(let alert, let field, let value, let expected):
            return Self.prefix(alert) + "\"\(field)\" is \(value), expected \(expected)"
        }
    }

    private static func prefix(_ alert: Int?) -> String {
        alert.map { "alert \($0): " } ?? ""
    }

    init(_ problem: AlertObjectProblem, alert: Int?) {
        switch problem {
        case .missing(let field):
            self = .missingField(alert: alert, field: field.name)
        case .wrongType(let field, let found, let expected):
            self = .wrongType(alert: alert, field: field.name, found: found, expected: expected)
        case .invalid(let field, let value, let expected):
            self = .invalidValue(alert: alert, field: field.name, value: value, expected: expected)
        }
    }
}
