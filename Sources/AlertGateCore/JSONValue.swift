/// A JSON document whose objects keep their keys in the order given: reports and the
/// status API promise an order (subject fields C, ST, L, O, OU, CN, emailAddress), which
/// Foundation's encoders do not keep on Linux.
public indirect enum JSONValue: Sendable, Hashable {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(Double)
    case integer(Int)
    case bool(Bool)
    case null

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        lhs.serialized() == rhs.serialized()
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(serialized())
    }

    /// The document as text; `pretty` indents by two spaces, one member per line.
    public func serialized(pretty: Bool = false) -> String {
        var output = ""
        write(to: &output, pretty: pretty, indent: 0)
        return output
    }

    private func write(to output: inout String, pretty: Bool, indent: Int) {
        let newline = pretty ? "\n" : ""
        let padding = pretty ? String(repeating: "  ", count: indent + 1) : ""
        let closing = pretty ? String(repeating: "  ", count: indent) : ""
        switch self {
        case .object(let members):
            guard !members.isEmpty else { return output += "{}" }
            output += "{" + newline
            for (index, (key, value)) in members.enumerated() {
                output += padding + Self.quote(key) + (pretty ? ": " : ":")
                value.write(to: &output, pretty: pretty, indent: indent + 1)
                output += (index == members.count - 1 ? "" : ",") + newline
            }
            output += closing + "}"
        case .array(let elements):
            guard !elements.isEmpty else { return output += "[]" }
            output += "[" + newline
            for (index, element) in elements.enumerated() {
                output += padding
                element.write(to: &output, pretty: pretty, indent: indent + 1)
                output += (index == elements.count - 1 ? "" : ",") + newline
            }
            output += closing + "]"
        case .string(let text):
            output += Self.quote(text)
        case .number(let value):
            output += value.isFinite ? "\(value)" : "null"
        case .integer(let value):
            output += "\(value)"
        case .bool(let value):
            output += value ? "true" : "false"
        case .null:
            output += "null"
        }
    }

    /// A JSON string literal (RFC 8259 §7).
    public static func quote(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case let control where control.value < 0x20:
                result += "\\u" + String(repeating: "0", count: 4 - String(control.value, radix: 16).count) + String(control.value, radix: 16)
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}

extension JSONValue {
    /// `.string(text)`, or `.null` for nil.
    public init(_ text: String?) {
        self = text.map(JSONValue.string) ?? .null
    }
}
