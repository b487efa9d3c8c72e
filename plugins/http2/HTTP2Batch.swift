import AlertGateCore
import Foundation
import NIOCore

/// One POST: its body and how many alerts, from the position where it starts in the
/// alerts handed to `send`, it carries.
struct HTTP2Batch: Sendable {
    var body: ByteBuffer
    var alertCount: Int
}

/// How alerts become request bodies, and how a list of alerts is cut into batches.
struct HTTP2BatchMaker: Sendable {
    enum Body: Sendable, Hashable {
        /// One payload a line, each line ended by `\n`.
        case ndjson
        /// Splunk HTTP Event Collector event objects, one after another (each followed by
        /// `\n`, which HEC skips as whitespace):
        /// `{"time":1709280929.125,"host":"…","source":"alertgate","sourcetype":"alertgate:alert","event":…}`.
        case splunkHEC
    }

    let body: Body
    let formatter: AlertFormatter
    let maxAlerts: Int
    let maxBytes: Int

    init(body: Body, formatter: AlertFormatter, limits: PartnerSettings.BatchLimits) {
        self.body = body
        self.formatter = formatter
        self.maxAlerts = max(1, limits.maxAlerts)
        self.maxBytes = max(1, limits.maxBytes)
    }

    /// The `content-type` of a body of `alertCount` alerts (docs/reference.md §12): HEC events and a
    /// single JSON alert are `application/json`; several JSON alerts, one a line, are not one
    /// JSON document but NDJSON (`application/x-ndjson`), which receivers that parse by
    /// content type would otherwise reject; other formats are lines of text.
    func contentType(alertCount: Int) -> String {
        if body == .splunkHEC { return "application/json" }
        guard formatter.format == .json else { return "text/plain; charset=utf-8" }
        return alertCount == 1 ? "application/json" : "application/x-ndjson"
    }

    /// Cuts `alerts`, in order, into batches of at most `maxAlerts` alerts and `maxBytes`
    /// bytes of body. An alert larger than `maxBytes` on its own travels alone.
    func batches(_ alerts: [Alert], allocator: ByteBufferAllocator) -> [HTTP2Batch] {
        var batches: [HTTP2Batch] = []
        let capacity = min(maxBytes, 64 * 1024)
        var current = allocator.buffer(capacity: capacity)
        var count = 0
        for alert in alerts {
            let start = current.writerIndex
            writeRecord(alert, into: &current)
            if count > 0, count == maxAlerts || current.readableBytes > maxBytes {
                // The record opens the next batch.
                let record = current.getSlice(at: start, length: current.writerIndex - start)!
                current.moveWriterIndex(to: start)
                batches.append(HTTP2Batch(body: current, alertCount: count))
                current = allocator.buffer(capacity: max(capacity, record.readableBytes))
                current.writeImmutableBuffer(record)
                count = 1
            } else {
                count += 1
            }
        }
        if count > 0 {
            batches.append(HTTP2Batch(body: current, alertCount: count))
        }
        return batches
    }

    /// One alert's record, with its line end.
    func writeRecord(_ alert: Alert, into buffer: inout ByteBuffer) {
        switch body {
        case .ndjson:
            formatter.writePayload(alert, into: &buffer)
        case .splunkHEC:
            buffer.writeStaticString("{\"time\":")
            Self.writeEpochSeconds(alert.time ?? alert.receivedAt, into: &buffer)
            buffer.writeStaticString(",\"host\":")
            Self.writeJSONString(Self.host(of: alert), into: &buffer)
            buffer.writeStaticString(",\"source\":\"alertgate\",\"sourcetype\":\"alertgate:alert\",\"event\":")
            if formatter.format == .json {
                formatter.writePayload(alert, into: &buffer)
            } else {
                // A CEF, LEEF or text payload is a string event.
                Self.writeJSONString(formatter.payload(alert), into: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "}"))
        }
        buffer.writeInteger(UInt8(ascii: "\n"))
    }

    /// HEC's `host`: the sensor that raised the alert, else the appliance.
    static func host(of alert: Alert) -> String {
        if let sensor = alert.sensor, !sensor.isEmpty { return sensor }
        return alert.appliance
    }

    /// Seconds since 1970 with milliseconds, as HEC's `time` takes them: `1709280929.125`.
    static func writeEpochSeconds(_ date: Date, into buffer: inout ByteBuffer) {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = milliseconds / 1000
        var fraction = milliseconds % 1000
        if fraction < 0 {
            seconds -= 1
            fraction += 1000
        }
        buffer.writeString(String(seconds))
        buffer.writeInteger(UInt8(ascii: "."))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(fraction / 100))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(fraction / 10 % 10))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(fraction % 10))
    }

    /// A JSON string (RFC 8259): quotes, backslashes and control characters escaped.
    static func writeJSONString(_ text: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
            case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
            case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
            case 0..<0x20:
                buffer.writeStaticString("\\u00")
                buffer.writeInteger(hexDigits[Int(byte >> 4)])
                buffer.writeInteger(hexDigits[Int(byte & 0x0F)])
            default:
                buffer.writeInteger(byte)
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
