import AlertGateCore
import Foundation

/// The members of a webhook alert object (docs/reference.md §4), as alertgate's JSON format writes them.
/// Other members (`received_at`, `appliance`, anything else) are skipped: the gateway sets
/// when it received an alert and which appliance it came from.
enum WebhookField: CaseIterable {
    case id, time, severity, title, message, protocolName, engine, sensor
    case sourceIP, destinationIP, sourceMAC, destinationMAC, category, raw

    /// The member name.
    var name: String {
        switch self {
        case .id: "id"
        case .time: "time"
        case .severity: "severity"
        case .title: "title"
        case .message: "message"
        case .protocolName: "protocol"
        case .engine: "engine"
        case .sensor: "sensor"
        case .sourceIP: "src_ip"
        case .destinationIP: "dst_ip"
        case .sourceMAC: "src_mac"
        case .destinationMAC: "dst_mac"
        case .category: "category"
        case .raw: "raw"
        }
    }

    /// The field a member name stands for; the name compared as bytes unless it holds escapes.
    static func named(_ reader: JSONReader, _ key: JSONReader.StringValue) -> WebhookField? {
        if key.hasEscapes {
            let name = reader.decode(key)
            return allCases.first { $0.name == name }
        }
        let bytes = reader.bytes
        let range = key.range
        switch range.count {
        case 2: return bytes.equals(range, "id") ? .id : nil
        case 3: return bytes.equals(range, "raw") ? .raw : nil
        case 4: return bytes.equals(range, "time") ? .time : nil
        case 5: return bytes.equals(range, "title") ? .title : nil
        case 6:
            if bytes.equals(range, "engine") { return .engine }
            if bytes.equals(range, "sensor") { return .sensor }
            if bytes.equals(range, "src_ip") { return .sourceIP }
            if bytes.equals(range, "dst_ip") { return .destinationIP }
            return nil
        case 7:
            if bytes.equals(range, "message") { return .message }
            if bytes.equals(range, "src_mac") { return .sourceMAC }
            if bytes.equals(range, "dst_mac") { return .destinationMAC }
            return nil
        case 8:
            if bytes.equals(range, "severity") { return .severity }
            if bytes.equals(range, "protocol") { return .protocolName }
            if bytes.equals(range, "category") { return .category }
            return nil
        default: return nil
        }
    }
}

/// What is wrong with the members of one alert object.
enum AlertObjectProblem: Error {
    case missing(WebhookField)
    case wrongType(WebhookField, found: String, expected: String)
    case invalid(WebhookField, value: String, expected: String)
}

/// One alert object read from JSON text: each known member's value, in place (stored
/// properties rather than an array, so that reading an object allocates nothing).
struct JSONAlertObject {
    private var id, time, severity, title, message, protocolName, engine: JSONReader.Value?
    private var sensor, sourceIP, destinationIP, sourceMAC, destinationMAC, category, raw: JSONReader.Value?

    subscript(field: WebhookField) -> JSONReader.Value? {
        get {
            switch field {
            case .id: id
            case .time: time
            case .severity: severity
            case .title: title
            case .message: message
            case .protocolName: protocolName
            case .engine: engine
            case .sensor: sensor
            case .sourceIP: sourceIP
            case .destinationIP: destinationIP
            case .sourceMAC: sourceMAC
            case .destinationMAC: destinationMAC
            case .category: category
            case .raw: raw
            }
        }
        set {
            switch field {
            case .id: id = newValue
            case .time: time = newValue
            case .severity: severity = newValue
            case .title: title = newValue
            case .message: message = newValue
            case .protocolName: protocolName = newValue
            case .engine: engine = newValue
            case .sensor: sensor = newValue
            case .sourceIP: sourceIP = newValue
            case .destinationIP: destinationIP = newValue
            case .sourceMAC: sourceMAC = newValue
            case .destinationMAC: destinationMAC = newValue
            case .category: category = newValue
            case .raw: raw = newValue
            }
        }
    }

    /// Reads an object at the reader (which must be at `{`).
    static func read(_ reader: inout JSONReader) throws(JSONReader.SyntaxError) -> JSONAlertObject {
        var object = JSONAlertObject()
        try reader.readObject(depth: 1) { (reader: inout JSONReader, key) throws(JSONReader.SyntaxError) in
            if let field = WebhookField.named(reader, key) {
                object[field] = try reader.readValue(depth: 1)  // a repeated member: the last one counts
            } else {
                _ = try reader.readValue(depth: 1)
            }
        }
        return object
    }

    /// The alert fields, checked: `title` a string and `severity` a word or a number 0–10,
    /// both required; `id` a string or a number; `time` an RFC 3339 string; the others
    /// strings. `null` is an absent member, except for the two required ones. With
    /// `lenientTime`, a `time` that is no timestamp is flagged rather than refused (a
    /// syslog message cannot be refused; a webhook body can).
    func fields(_ reader: JSONReader, lenientTime: Bool = false, into fields: inout AlertFields) throws(AlertObjectProblem) {
        let bytes = reader.bytes

        guard let title = self[.title] else { throw .missing(.title) }
        guard case .string(let titleText) = title else {
            throw .wrongType(.title, found: title.typeName, expected: "a string")
        }
        fields.title = reader.decode(titleText)

        guard let severity = self[.severity] else { throw .missing(.severity) }
        fields.severity = try Self.severity(severity, reader)

        switch self[.id] {
        case .string(let text)?: fields.id = text.range.isEmpty ? nil : reader.decode(text)
        case .number(let range)?: fields.id = bytes.string(range)
        case .null?, nil: break
        case let other?: throw .wrongType(.id, found: other.typeName, expected: "a string or a number")
        }

        if let text = try string(.time, reader) {
            if !text.hasEscapes, let time = Timestamp.rfc3339(bytes, text.range) {
                fields.time = time
            } else if lenientTime {
                fields.unreadableTime = true
            } else {
                throw .invalid(.time, value: Self.quoted(reader, text), expected: "an RFC 3339 timestamp such as 2024-03-01T08:15:30Z")
            }
        }
        if let text = try string(.engine, reader) {
            if text.hasEscapes {
                var decoded = reader.decode(text)
                fields.engine = decoded.withUTF8 { Vocabulary.engine($0, 0..<$0.count, nil) }
            } else {
                fields.engine = Vocabulary.engine(bytes, text.range, nil)
            }
        }
        fields.message = try nonEmpty(.message, reader)
        fields.protocolName = try nonEmpty(.protocolName, reader)
        fields.sensor = try nonEmpty(.sensor, reader)
        fields.sourceIP = try nonEmpty(.sourceIP, reader)
        fields.destinationIP = try nonEmpty(.destinationIP, reader)
        fields.sourceMAC = try nonEmpty(.sourceMAC, reader)
        fields.destinationMAC = try nonEmpty(.destinationMAC, reader)
        fields.category = try nonEmpty(.category, reader)
        fields.raw = try nonEmpty(.raw, reader)
    }

    private func string(_ field: WebhookField, _ reader: JSONReader) throws(AlertObjectProblem) -> JSONReader.StringValue? {
        switch self[field] {
        case .string(let text)?: return text.range.isEmpty ? nil : text
        case .null?, nil: return nil
        case let other?: throw .wrongType(field, found: other.typeName, expected: "a string")
        }
    }

    private func nonEmpty(_ field: WebhookField, _ reader: JSONReader) throws(AlertObjectProblem) -> String? {
        try string(field, reader).map { reader.decode($0) }
    }

    private static let severityExpectation = "warning, minor, major, critical or a number 0–10"

    private static func severity(_ value: JSONReader.Value, _ reader: JSONReader) throws(AlertObjectProblem) -> Severity {
        let bytes = reader.bytes
        switch value {
        case .string(let text):
            if !text.hasEscapes, let severity = Vocabulary.severity(bytes, text.range) { return severity }
            throw .invalid(.severity, value: quoted(reader, text), expected: severityExpectation)
        case .number(let range):
            if let integer = bytes.decimal(range), let severity = Severity(numeric: integer) { return severity }
            // 8.0, 8e0: whole numbers in another spelling.
            if let double = Double(bytes.string(range)), double.rounded() == double, double >= 0, double <= 10,
                let severity = Severity(numeric: Int(double))
            {
                return severity
            }
            throw .invalid(.severity, value: bytes.string(range), expected: severityExpectation)
        default:
            throw .wrongType(.severity, found: value.typeName, expected: "a string or a number")
        }
    }

    /// A string value as the sender wrote it, in quotes, cut at 40 characters.
    private static func quoted(_ reader: JSONReader, _ text: JSONReader.StringValue) -> String {
        let value = reader.bytes.string(text.range)
        return "\"" + (value.count > 40 ? value.prefix(40) + "…" : value) + "\""
    }
}
