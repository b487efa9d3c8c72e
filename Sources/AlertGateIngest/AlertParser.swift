import AlertGateCore
import Foundation
import NIOCore

/// Turns what sensors and consoles send into `Alert`s: one syslog message (already framed,
/// see `SyslogFrameDecoder`), or one webhook body.
///
/// A syslog message is read in this order:
/// 1. the envelope: RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`; alertgate's
///    own `[alertgate@32473 id="…" appliance="…" severity="…"]` gives the id, the severity
///    and the sensor), else RFC 3164 (`<PRI>Mmm dd hh:mm:ss host tag: msg`), else none;
/// 2. the payload in its MSG (or in the whole message): CEF, LEEF 1.0/2.0, or a JSON
///    object with at least `title` and `severity` (the webhook schema);
/// 3. else, with alertgate's structured data, alertgate's own text payload `title: message`;
/// 4. else the message is forwarded as it came: `raw` is the whole message, the title its
///    MSG's first 120 characters. Nothing is dropped.
///
/// The severity is the payload's (a word wins over a number; 0–10 maps to warning 0–3,
/// minor 4–6, major 7–8, critical 9–10), else alertgate's structured data's, else the
/// PRI's (0–2 critical, 3 major, 4 minor, 5–7 warning), else warning. The id is the
/// payload's (`UUID=`, JSON `id`), else the structured data's, else a new UUID. The time
/// is the payload's (`start=`, JSON `time`), else the envelope's. The sensor is the
/// payload's (CEF/LEEF product, JSON `sensor`), else the structured data's appliance,
/// else the envelope's HOSTNAME, else the sender's address.
///
/// Bytes that are not UTF-8 are replaced with U+FFFD (and the result says so). Trailing
/// line feeds, carriage returns and NULs (a UDP datagram's terminator) are not part of
/// the message.
///
/// Everything is read from the bytes in place: no Foundation scanner, regular expression
/// or date formatter; a `String` is made only of a field an alert keeps.
public struct AlertParser: Sendable {
    /// The title of a message no format parsed: its first 120 characters.
    public static let rawTitleLength = 120

    public init() {}

    // MARK: - Syslog

    public func parse(_ bytes: ByteBuffer, receivedAt: Date, appliance: String, sourceAddress: String?) -> ParseResult {
        bytes.withUnsafeReadableBytes { raw in
            parse(raw.assumingMemoryBound(to: UInt8.self), receivedAt: receivedAt, appliance: appliance, sourceAddress: sourceAddress)
        }
    }

    public func parse(_ bytes: [UInt8], receivedAt: Date, appliance: String, sourceAddress: String?) -> ParseResult {
        bytes.withUnsafeBufferPointer {
            parse($0, receivedAt: receivedAt, appliance: appliance, sourceAddress: sourceAddress)
        }
    }

    public func parse(_ text: String, receivedAt: Date, appliance: String, sourceAddress: String?) -> ParseResult {
        var text = text
        return text.withUTF8 { parse($0, receivedAt: receivedAt, appliance: appliance, sourceAddress: sourceAddress) }
    }

    private func parse(_ bytes: Bytes, receivedAt: Date, appliance: String, sourceAddress: String?) -> ParseResult {
        if UTF8Validation.isValid(bytes) {
            return parseValid(bytes, receivedAt: receivedAt, appliance: appliance, sourceAddress: sourceAddress, problems: [])
        }
        var repaired = String(decoding: bytes, as: UTF8.self)
        return repaired.withUTF8 {
            parseValid($0, receivedAt: receivedAt, appliance: appliance, sourceAddress: sourceAddress, problems: .invalidUTF8)
        }
    }

    private func parseValid(
        _ whole: Bytes, receivedAt: Date, appliance: String, sourceAddress: String?, problems: ParseProblems
    ) -> ParseResult {
        var count = whole.count
        while count > 0, whole[count - 1] == ASCII.lineFeed || whole[count - 1] == ASCII.carriageReturn || whole[count - 1] == ASCII.nul {
            count -= 1
        }
        let bytes = Bytes(rebasing: whole[0..<count])
        let envelope = SyslogEnvelope(bytes, receivedAt: receivedAt)
        var recognized = envelope.format
        var problems = problems
        let content = envelope.content
        let end = content.upperBound

        var fields = AlertFields()
        if bytes.hasPrefix("CEF:", at: content.lowerBound, end: end),
            CEF.parse(bytes, content, receivedAt: receivedAt, into: &fields)
        {
            recognized.insert(.cef)
        } else if bytes.hasPrefix("LEEF:", at: content.lowerBound, end: end),
            LEEF.parse(bytes, content, receivedAt: receivedAt, into: &fields)
        {
            recognized.insert(.leef)
        } else if bytes.hasPrefix("{", at: content.lowerBound, end: end), Self.jsonFields(bytes, content, into: &fields) {
            recognized.insert(.json)
        } else if envelope.ours.present {
            fields = AlertFields()
            Self.textFields(bytes, content, into: &fields)
        } else {
            recognized.insert(.raw)
            fields = AlertFields()
            let text = bytes.string(0..<count)
            let messageStart = text.utf8.index(text.startIndex, offsetBy: envelope.message.lowerBound)
            fields.title = String(text[messageStart...].prefix(Self.rawTitleLength))
            fields.raw = text
        }
        if envelope.unreadableTime || fields.unreadableTime {
            problems.insert(.unreadableTime)
        }

        let alert = Alert(
            id: fields.id ?? envelope.ours.id.map { bytes.unescaped($0, .structuredData) } ?? AlertID.make(),
            receivedAt: receivedAt,
            time: (fields.time ?? envelope.time).map(Date.init(timeIntervalSince1970:)),
            severity: fields.severity ?? envelope.ours.severity ?? envelope.prioritySeverity ?? .warning,
            title: fields.title ?? "",
            message: fields.message,
            protocolName: fields.protocolName,
            engine: fields.engine,
            sensor: fields.sensor ?? envelope.ours.appliance.map { bytes.unescaped($0, .structuredData) }
                ?? envelope.hostname.map { bytes.string($0) } ?? sourceAddress,
            sourceIP: fields.sourceIP,
            destinationIP: fields.destinationIP,
            sourceMAC: fields.sourceMAC,
            destinationMAC: fields.destinationMAC,
            category: fields.category,
            appliance: appliance,
            raw: fields.raw,
            extensions: fields.extensions
        )
        return ParseResult(alert: alert, recognized: recognized, problems: problems)
    }

    /// A JSON alert object filling `range`, into `fields`; false when there is none (the
    /// message is then forwarded raw, and `fields` is reset by the caller).
    private static func jsonFields(_ bytes: Bytes, _ range: Range<Int>, into fields: inout AlertFields) -> Bool {
        var reader = JSONReader(bytes, range)
        guard let object = try? JSONAlertObject.read(&reader) else { return false }
        reader.skipWhitespace()
        guard reader.index == reader.end else { return false }
        do {
            try object.fields(reader, lenientTime: true, into: &fields)
            return true
        } catch {
            return false
        }
    }

    /// alertgate's RFC 5424 text payload: `title: message`, or the title alone. (A title
    /// that itself holds ": " cannot be told from the message there; it splits at the first.)
    private static func textFields(_ bytes: Bytes, _ range: Range<Int>, into fields: inout AlertFields) {
        var search = range
        while let colon = bytes.firstIndex(of: ASCII.colon, in: search) {
            if colon + 1 < range.upperBound, bytes[colon + 1] == ASCII.space {
                fields.title = bytes.string(range.lowerBound..<colon)
                fields.message = bytes.nonEmptyString(colon + 2..<range.upperBound)
                return
            }
            search = colon + 1..<range.upperBound
        }
        fields.title = bytes.string(range)
    }

    // MARK: - Webhook

    /// The alerts of a webhook POST body: one JSON alert object or an array of them (docs/reference.md
    /// §4). The body is refused whole at the first problem, which the error names with the
    /// alert's index in the array. Bytes that are not UTF-8 are replaced with U+FFFD.
    public func parseWebhookBody(_ body: [UInt8], receivedAt: Date, appliance: String) -> Result<[Alert], WebhookError> {
        body.withUnsafeBufferPointer { bytes in
            if UTF8Validation.isValid(bytes) {
                return Result { () throws(WebhookError) in try Self.webhookAlerts(bytes, receivedAt: receivedAt, appliance: appliance) }
            }
            var repaired = String(decoding: bytes, as: UTF8.self)
            return repaired.withUTF8 { bytes in
                Result { () throws(WebhookError) in try Self.webhookAlerts(bytes, receivedAt: receivedAt, appliance: appliance) }
            }
        }
    }

    private static func webhookAlerts(_ bytes: Bytes, receivedAt: Date, appliance: String) throws(WebhookError) -> [Alert] {
        var reader = JSONReader(bytes, 0..<bytes.count)
        reader.skipWhitespace()
        guard let first = reader.peek() else { throw .emptyBody }
        var alerts: [Alert] = []
        switch first {
        case UInt8(ascii: "{"):
            alerts.append(try webhookAlert(&reader, number: nil, receivedAt: receivedAt, appliance: appliance))
        case UInt8(ascii: "["):
            reader.index += 1
            reader.skipWhitespace()
            guard reader.peek() != UInt8(ascii: "]") else {
                reader.index += 1
                break
            }
            while true {
                let number = alerts.count
                reader.skipWhitespace()
                guard reader.peek() == UInt8(ascii: "{") else {
                    let value: JSONReader.Value
                    do throws(JSONReader.SyntaxError) {
                        value = try reader.readValue(depth: 1)
                    } catch {
                        throw malformed(error, alert: number)
                    }
                    throw .notAnObject(alert: number, found: value.typeName)
                }
                alerts.append(try webhookAlert(&reader, number: number, receivedAt: receivedAt, appliance: appliance))
                reader.skipWhitespace()
                guard let next = reader.peek(), next == UInt8(ascii: ",") || next == UInt8(ascii: "]") else {
                    throw malformed(reader.error("expected ',' or ']' after an alert"), alert: number)
                }
                reader.index += 1
                if next == UInt8(ascii: "]") { break }
            }
        default:
            let value: JSONReader.Value
            do throws(JSONReader.SyntaxError) {
                value = try reader.readValue(depth: 0)
            } catch {
                throw malformed(error, alert: nil)
            }
            throw .notAlerts(found: value.typeName)
        }
        reader.skipWhitespace()
        guard reader.index == reader.end else {
            throw malformed(reader.error("unexpected text after the JSON value"), alert: nil)
        }
        return alerts
    }

    private static func malformed(_ error: JSONReader.SyntaxError, alert: Int?) -> WebhookError {
        .malformedJSON(alert: alert, offset: error.offset, reason: error.reason)
    }

    private static func webhookAlert(
        _ reader: inout JSONReader, number: Int?, receivedAt: Date, appliance: String
    ) throws(WebhookError) -> Alert {
        let object: JSONAlertObject
        do throws(JSONReader.SyntaxError) {
            object = try JSONAlertObject.read(&reader)
        } catch {
            throw malformed(error, alert: number)
        }
        var fields = AlertFields()
        do throws(AlertObjectProblem) {
            try object.fields(reader, into: &fields)
        } catch {
            throw WebhookError(error, alert: number)
        }
        return Alert(
            id: fields.id ?? AlertID.make(),
            receivedAt: receivedAt,
            time: fields.time.map(Date.init(timeIntervalSince1970:)),
            severity: fields.severity ?? .warning,
            title: fields.title ?? "",
            message: fields.message,
            protocolName: fields.protocolName,
            engine: fields.engine,
            sensor: fields.sensor,
            sourceIP: fields.sourceIP,
            destinationIP: fields.destinationIP,
            sourceMAC: fields.sourceMAC,
            destinationMAC: fields.destinationMAC,
            category: fields.category,
            appliance: appliance,
            raw: fields.raw
        )
    }
}
