import Foundation
import NIOCore

/// Renders an `Alert` as a partner receives it: the payload alone (CEF, LEEF, JSON or
/// text), or a complete RFC 5424 syslog message around it, as the syslog-TLS transport
/// sends it (docs/reference.md §7).
///
/// The CEF and LEEF layouts follow Microsoft Defender for IoT's forwarding rules ("Syslog
/// CEF output fields" and "Syslog LEEF output fields" in *Forward on-premises OT alert
/// information*, https://learn.microsoft.com/azure/defender-for-iot/organizations/how-to-forward-alert-information-to-partners),
/// so that SIEM content written for Defender's own forwarding works unchanged:
///
///     CEF:0|Microsoft Defender for IoT|<sensor>|<version>|Microsoft Defender for IoT Alert|<title>|<1|4|8|10>|msg=… protocol=… severity=Major type=Policy Violation UUID=… start=… src_ip=… src_mac=… dst_ip=… dst_mac=… cat=…
///     LEEF:1.0|Microsoft Defender for IoT|<sensor>|<version>|Microsoft Defender for IoT Alert|title=…<TAB>msg=…<TAB>protocol=…<TAB>severity=Major<TAB>type=…<TAB>start=…<TAB>src_ip=…<TAB>dst_ip=…<TAB>cat=…
///
/// `<sensor>` is the alert's sensor, or its appliance where the sender named no sensor.
/// Absent (or empty) fields are left out. `msg=` carries the raw text of an alert that no
/// parser understood. `type=` turns the engine names of the config (`policy`, `protocol`,
/// `malware`, `anomaly`, `operational`) into Defender's words (`Policy Violation`, …);
/// another engine name goes out as it is. `start=` is the alert's own time, in a CEF
/// timestamp form with milliseconds and an explicit zone, `Mar 01 2024 08:15:29.125 UTC`
/// (Defender writes its forwarding rule's local time; CEF consumers do not parse RFC 3339).
///
/// Every call reserves an upper bound for the whole alert in the caller's buffer once and
/// writes straight into it; nothing is cached, nothing allocated beyond the buffer's growth.
public struct AlertFormatter: Sendable {
    public let format: AlertFormat
    /// The RFC 5424 HOSTNAME of the envelope: the gateway's name.
    public let hostname: String
    /// The version in the CEF and LEEF headers.
    public let productVersion: String

    /// `hostname` as RFC 5424 §6.2.4 allows it: printable US-ASCII without spaces, at most
    /// 255 characters, `-` when empty.
    private let syslogHostname: String
    /// `productVersion` escaped for a CEF/LEEF header field (both escape alike).
    private let headerVersion: String

    public init(format: AlertFormat, hostname: String, productVersion: String) {
        self.format = format
        self.hostname = hostname
        self.productVersion = productVersion
        self.syslogHostname = Self.syslogHostname(hostname)
        var version = ByteBufferAllocator().buffer(capacity: 0)
        version.writeDirect(reserving: 2 * productVersion.utf8.count) { $0.escaped(productVersion, .cefHeader) }
        self.headerVersion = String(buffer: version)
    }

    // MARK: - Entry points

    /// Writes the payload alone, in the formatter's format.
    public func writePayload(_ alert: Alert, into buffer: inout ByteBuffer) {
        buffer.writeDirect(reserving: capacityBound(alert)) { writePayload(alert, into: &$0) }
    }

    /// Writes one complete RFC 5424 message (no framing, no BOM, nothing truncated):
    ///
    ///     <PRI>1 TIMESTAMP HOSTNAME alertgate - alert [alertgate@32473 id="…" appliance="…" severity="major"] PAYLOAD
    ///
    /// PRI is facility 1 (user-level, Defender's "User") × 8 plus the severity's
    /// `syslogSeverity`: 10 critical, 11 major, 12 minor, 13 warning. TIMESTAMP is the
    /// alert's own time, or when the gateway received it. The SD-ID uses the example
    /// enterprise number 32473 (RFC 5612). The payload follows a space, and is left out,
    /// with its space, when empty.
    public func writeSyslogMessage(_ alert: Alert, into buffer: inout ByteBuffer) {
        buffer.writeDirect(reserving: capacityBound(alert)) { writer in
            writer.byte(UInt8(ascii: "<"))
            writer.decimal(Self.userFacility * 8 + alert.severity.syslogSeverity)
            writer.bytes(">1 ")
            writer.rfc3339(UTCDateTime(alert.time ?? alert.receivedAt))
            writer.byte(UInt8(ascii: " "))
            writer.string(syslogHostname)
            writer.bytes(" alertgate - alert [alertgate@32473 id=\"")
            writer.escaped(alert.id, .structuredDataParameter)
            writer.bytes("\" appliance=\"")
            writer.escaped(alert.appliance, .structuredDataParameter)
            writer.bytes("\" severity=\"")
            writer.bytes(alert.severity.word)
            writer.bytes("\"] ")
            let payloadStart = writer.count
            writePayload(alert, into: &writer)
            if writer.count == payloadStart {
                writer.removeLast()  // the space before a payload that is not there
            }
        }
    }

    /// The payload as text.
    public func payload(_ alert: Alert) -> String {
        var buffer = ByteBufferAllocator().buffer(capacity: 0)
        writePayload(alert, into: &buffer)
        return String(buffer: buffer)
    }

    /// The RFC 5424 message as text.
    public func syslogMessage(_ alert: Alert) -> String {
        var buffer = ByteBufferAllocator().buffer(capacity: 0)
        writeSyslogMessage(alert, into: &buffer)
        return String(buffer: buffer)
    }

    static let userFacility = 1

    /// An upper bound of the bytes `writeSyslogMessage` (and so `writePayload`) writes for
    /// `alert`: the fixed text of any format and envelope (under 400 bytes: keys, header
    /// literals, two timestamps, the PRI), plus every field at its largest escaped size
    /// (6 bytes a byte in JSON, `\u00XX`; 2 elsewhere), plus the id and the appliance
    /// again for the structured data, plus the Defender `type=` word. Only an estimate for
    /// speed: should it ever fall short, `writeDirect` formats again with what it counted
    /// (an alert is whatever a peer sent; formatting never traps on it).
    private func capacityBound(_ alert: Alert) -> Int {
        // One statement a field: a single long sum of optionals takes the type checker minutes.
        var fields = alert.id.utf8.count
        fields += alert.title.utf8.count
        fields += alert.appliance.utf8.count
        fields += Self.size(alert.message)
        fields += Self.size(alert.raw)
        fields += Self.size(alert.protocolName)
        fields += Self.size(alert.engine)
        fields += Self.size(alert.sensor)
        fields += Self.size(alert.category)
        fields += Self.size(alert.sourceIP)
        fields += Self.size(alert.destinationIP)
        fields += Self.size(alert.sourceMAC)
        fields += Self.size(alert.destinationMAC)
        fields += Self.size(alert.extensions)
        let expansion = format == .json ? 6 : 2
        let structuredData = 2 * (alert.id.utf8.count + alert.appliance.utf8.count)
        return 640 + expansion * fields + structuredData + syslogHostname.utf8.count + headerVersion.utf8.count
    }

    @inline(__always)
    private static func size(_ text: String?) -> Int {
        text?.utf8.count ?? 0
    }

    private func writePayload(_ alert: Alert, into writer: inout ByteWriter) {
        switch format {
        case .cef: writeCEF(alert, into: &writer)
        case .leef: writeLEEF(alert, into: &writer)
        case .json: writeJSON(alert, into: &writer)
        case .rfc5424: writeText(alert, into: &writer)
        }
    }

    // MARK: - CEF

    private func writeCEF(_ alert: Alert, into writer: inout ByteWriter) {
        writer.bytes("CEF:0|Microsoft Defender for IoT|")
        writer.escaped(Self.sensorName(alert), .cefHeader)
        writer.byte(UInt8(ascii: "|"))
        writer.string(headerVersion)
        writer.bytes("|Microsoft Defender for IoT Alert|")
        writer.escaped(alert.title, .cefHeader)
        writer.byte(UInt8(ascii: "|"))
        writer.decimal(alert.severity.cefSeverity)
        writer.byte(UInt8(ascii: "|"))

        var fields = Attributes(separator: UInt8(ascii: " "), escaping: .cefExtension)
        fields.write("msg", alert.message ?? alert.raw, into: &writer)
        fields.write("protocol", alert.protocolName, into: &writer)
        fields.write("severity", alert.severity.displayWord, into: &writer)
        fields.writeType(alert.engine, into: &writer)
        fields.write("UUID", alert.id, into: &writer)
        fields.writeTime("start", alert.time, into: &writer)
        fields.write("src_ip", alert.sourceIP, into: &writer)
        fields.write("src_mac", alert.sourceMAC, into: &writer)
        fields.write("dst_ip", alert.destinationIP, into: &writer)
        fields.write("dst_mac", alert.destinationMAC, into: &writer)
        fields.write("cat", alert.category, into: &writer)
        if let extensions = alert.extensions, !extensions.isEmpty {
            // Already CEF-escaped, as the sender wrote them.
            writer.byte(UInt8(ascii: " "))
            writer.string(extensions)
        }
    }

    // MARK: - LEEF

    private func writeLEEF(_ alert: Alert, into writer: inout ByteWriter) {
        writer.bytes("LEEF:1.0|Microsoft Defender for IoT|")
        writer.escaped(Self.sensorName(alert), .leefHeader)
        writer.byte(UInt8(ascii: "|"))
        writer.string(headerVersion)
        writer.bytes("|Microsoft Defender for IoT Alert|")

        var fields = Attributes(separator: UInt8(ascii: "\t"), escaping: .leefAttribute)
        fields.write("title", alert.title, into: &writer)
        fields.write("msg", alert.message ?? alert.raw, into: &writer)
        fields.write("protocol", alert.protocolName, into: &writer)
        fields.write("severity", alert.severity.displayWord, into: &writer)
        fields.writeType(alert.engine, into: &writer)
        fields.writeTime("start", alert.time, into: &writer)
        fields.write("src_ip", alert.sourceIP, into: &writer)
        fields.write("dst_ip", alert.destinationIP, into: &writer)
        fields.write("cat", alert.category, into: &writer)
    }

    /// Key=value pairs joined by one separator, absent and empty values left out.
    private struct Attributes {
        let separator: UInt8
        let escaping: TextEscaping
        var first = true

        init(separator: UInt8, escaping: TextEscaping) {
            self.separator = separator
            self.escaping = escaping
        }

        @inline(__always)
        mutating func write(_ key: StaticString, _ value: String?, into writer: inout ByteWriter) {
            guard let value, !value.isEmpty else { return }
            writeKey(key, into: &writer)
            writer.escaped(value, escaping)
        }

        @inline(__always)
        mutating func write(_ key: StaticString, _ value: StaticString, into writer: inout ByteWriter) {
            writeKey(key, into: &writer)
            writer.bytes(value)
        }

        /// `type=`: Defender's word for an engine name of the config, other names as they are.
        mutating func writeType(_ engine: String?, into writer: inout ByteWriter) {
            guard let engine, !engine.isEmpty else { return }
            if let word = AlertFormatter.defenderType(engine) {
                write("type", word, into: &writer)
            } else {
                write("type", engine, into: &writer)
            }
        }

        mutating func writeTime(_ key: StaticString, _ date: Date?, into writer: inout ByteWriter) {
            guard let date else { return }
            writeKey(key, into: &writer)
            writer.cefTimestamp(UTCDateTime(date))
        }

        @inline(__always)
        private mutating func writeKey(_ key: StaticString, into writer: inout ByteWriter) {
            if first {
                first = false
            } else {
                writer.byte(separator)
            }
            writer.bytes(key)
            writer.byte(UInt8(ascii: "="))
        }
    }

    /// Defender's `type=` word for an engine name of the config (any case), else nil.
    /// Compared byte by byte, without lowercasing into a new string.
    static func defenderType(_ engine: String) -> StaticString? {
        let length = engine.utf8.count
        for (name, word) in engineTypes where name.utf8CodeUnitCount == length {
            let matches = zip(engine.utf8, UnsafeBufferPointer(start: name.utf8Start, count: length))
                .allSatisfy { byte, lowercase in
                    (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 == lowercase : byte == lowercase
                }
            if matches { return word }
        }
        return nil
    }

    private static let engineTypes: [(name: StaticString, word: StaticString)] = [
        ("policy", "Policy Violation"),
        ("protocol", "Protocol Violation"),
        ("malware", "Malware"),
        ("anomaly", "Anomaly"),
        ("operational", "Operational"),
    ]

    /// The CEF/LEEF product field: the sensor, else the appliance.
    private static func sensorName(_ alert: Alert) -> String {
        if let sensor = alert.sensor, !sensor.isEmpty { return sensor }
        return alert.appliance
    }

    // MARK: - JSON

    /// One object on one line, keys in a fixed order, absent optionals left out (`time`
    /// alone is written as null, so that every document has it).
    private func writeJSON(_ alert: Alert, into writer: inout ByteWriter) {
        writer.bytes("{\"id\":")
        Self.writeJSONString(alert.id, into: &writer)
        if let time = alert.time {
            writer.bytes(",\"time\":\"")
            writer.rfc3339(UTCDateTime(time))
            writer.byte(UInt8(ascii: "\""))
        } else {
            writer.bytes(",\"time\":null")
        }
        writer.bytes(",\"received_at\":\"")
        writer.rfc3339(UTCDateTime(alert.receivedAt))
        writer.bytes("\",\"severity\":\"")
        writer.bytes(alert.severity.word)
        writer.bytes("\",\"title\":")
        Self.writeJSONString(alert.title, into: &writer)
        Self.writeJSONMember(",\"message\":", alert.message, into: &writer)
        Self.writeJSONMember(",\"protocol\":", alert.protocolName, into: &writer)
        Self.writeJSONMember(",\"engine\":", alert.engine, into: &writer)
        Self.writeJSONMember(",\"sensor\":", alert.sensor, into: &writer)
        Self.writeJSONMember(",\"src_ip\":", alert.sourceIP, into: &writer)
        Self.writeJSONMember(",\"dst_ip\":", alert.destinationIP, into: &writer)
        Self.writeJSONMember(",\"src_mac\":", alert.sourceMAC, into: &writer)
        Self.writeJSONMember(",\"dst_mac\":", alert.destinationMAC, into: &writer)
        Self.writeJSONMember(",\"category\":", alert.category, into: &writer)
        writer.bytes(",\"appliance\":")
        Self.writeJSONString(alert.appliance, into: &writer)
        Self.writeJSONMember(",\"raw\":", alert.raw, into: &writer)
        Self.writeJSONMember(",\"extensions\":", alert.extensions, into: &writer)
        writer.byte(UInt8(ascii: "}"))
    }

    @inline(__always)
    private static func writeJSONMember(_ keyWithColon: StaticString, _ value: String?, into writer: inout ByteWriter) {
        guard let value else { return }
        writer.bytes(keyWithColon)
        writeJSONString(value, into: &writer)
    }

    @inline(__always)
    private static func writeJSONString(_ value: String, into writer: inout ByteWriter) {
        writer.byte(UInt8(ascii: "\""))
        writer.escaped(value, .json)
        writer.byte(UInt8(ascii: "\""))
    }

    // MARK: - Text

    /// `title: message`; the title alone when there is no message; the raw text, as it
    /// came, of an alert no parser understood (it has raw text and no message; its title is
    /// only the text's head). Written unescaped: the syslog transport frames by octet
    /// count, so line breaks travel intact.
    private func writeText(_ alert: Alert, into writer: inout ByteWriter) {
        if let raw = alert.raw, alert.message == nil || alert.title.isEmpty {
            writer.string(raw)
            return
        }
        writer.string(alert.title)
        if let message = alert.message, !message.isEmpty {
            if !alert.title.isEmpty {
                writer.bytes(": ")
            }
            writer.string(message)
        }
    }

    // MARK: - Envelope

    private static func syslogHostname(_ name: String) -> String {
        guard !name.isEmpty else { return "-" }
        var result = ""
        for scalar in name.unicodeScalars.prefix(255) {
            result.unicodeScalars.append((33...126).contains(scalar.value) ? scalar : "_")
        }
        return result
    }
}

extension ByteWriter {
    /// `MMM dd yyyy HH:mm:ss.SSS zzz`, one of the timestamp forms the CEF specification
    /// lists for `start`/`end`/`rt`, always in UTC: `Mar 01 2024 08:15:29.125 UTC`.
    @inline(__always)
    mutating func cefTimestamp(_ time: UTCDateTime) {
        bytes(Self.monthAbbreviations[time.month - 1])
        byte(UInt8(ascii: " "))
        twoDigits(time.day)
        byte(UInt8(ascii: " "))
        decimal(time.year, width: 4)
        byte(UInt8(ascii: " "))
        twoDigits(time.hour)
        byte(UInt8(ascii: ":"))
        twoDigits(time.minute)
        byte(UInt8(ascii: ":"))
        twoDigits(time.second)
        byte(UInt8(ascii: "."))
        decimal(time.millisecond, width: 3)
        bytes(" UTC")
    }

    private static let monthAbbreviations: [StaticString] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
}
